"""The closure service (stages 7-8): termination and referral. Not built yet: without a
bootstrap, `caseline serve` does not offer it."""
