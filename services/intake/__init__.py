"""The intake service (stages 1-2): case finding, registration (personal details in its vault),
consent, screening, assessment and assignment."""
