"""Event-sourced ledger of welfare-lottery public welfare funds (福彩公益金): domain and use cases."""
