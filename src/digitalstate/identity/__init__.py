"""People, sign-in, pseudonyms, OpenID Connect (provider and relying party), delegations."""
