"""What an owner sets up for themselves beyond scouts: checking that email reaches them."""
