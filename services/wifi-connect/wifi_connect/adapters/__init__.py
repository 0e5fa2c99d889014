"""Adapters to the outside world: ``nmcli.NmcliBackend`` (ports.NetworkBackend) and ``dnsmasq.Dnsmasq``
(ports.Dhcp). Thin and policy-free; every call is bounded by a timeout and fails with an AdapterError."""
