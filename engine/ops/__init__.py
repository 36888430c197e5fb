"""Operating the deployment: checks an operator runs or reads in the logs."""
