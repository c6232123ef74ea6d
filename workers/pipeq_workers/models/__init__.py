"""Which models a worker may load (the allow-list), fetching and loading them."""
