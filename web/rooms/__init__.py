"""One router and one template folder per room (web/templates/<room>/)."""
