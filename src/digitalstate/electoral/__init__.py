"""The electoral registration office: register to vote, the identity check, the roll."""
