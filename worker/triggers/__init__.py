"""The connector's triggers against Graph: what is new since a cursor, and push polling."""
