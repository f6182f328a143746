"""The core's load-port selector values, shared by the RTL and the host side without importing
Amaranth."""

SEL = {"prog": 0, "wgt": 1, "qnt": 2, "act": 3}
