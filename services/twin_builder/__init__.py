"""Twin builder: the roster of consented digital twins, and planning renders of products on them."""
