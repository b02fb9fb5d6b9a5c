"""Liverpool pensions\x27 State Pension claims: State Pension age and the award (issue 10)."""
