"""People, sign-in, pseudonyms, the OpenID Connect provider and relying party, delegations, sessions."""
