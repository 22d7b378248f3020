"""The security register: incidents at facilities, depots and routes, and the hazard rates by
country, stage and threat type that a Gamma-Poisson update draws from them."""
