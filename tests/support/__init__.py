"""Scaffolding every test layer shares: federation documents, node settings and nodes, clients.

Importable as `support` from unit, integration, security and e2e tests (pyproject.toml puts
tests/ on pytest's pythonpath):

- support.federation: members, federation documents, signed envelopes, an anchor that is down;
- support.nodes: a node's settings, its runtime and its app running in-process;
- support.clients: a synchronous in-process client of an app, which can sign exchange calls;
- support.servers: an app served by uvicorn on a loopback socket, in a thread;
- support.databases: the kinds of database a fixture is parametrised over;
- support.clocks: a clock a test moves by hand, for sign-in guards and session stores;
- support.cli: the `digitalstate` command run in-process, succeeding or failing in one line;
- support.smtp: a real SMTP server (aiosmtpd, the mail catcher's handler) on a loopback port;
- support.demo: what tests of the demo's preparation share (FEW_JOURNEYS);
- support.fixtures: fixtures several layers share (alice, bob), imported by their conftest.py.
"""
