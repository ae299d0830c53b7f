"""The node protocol: what gateways and nodes say to each other over HTTP.

Header names (``headers``), the metadata footer after a blob's bytes (``footer``), the rows
and pages of the database API on the wire (``db_wire``), the database API's operations and what
each does on a node (``db_ops``), and the client (``client``).
"""
