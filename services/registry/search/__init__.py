"""Camera search for investigators: near a point, inside a polygon, along a route."""
