"""Monte Carlo engine: toy policies with exact gradients, vectorized estimators, checks."""
