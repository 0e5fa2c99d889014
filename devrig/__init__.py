"""devrig: the simulated device the tests and the local demo run on. Not shipped.

Simulated NetworkManager (no root needed)::

    from devrig.nm import SimulatedNetworkManager

    with SimulatedNetworkManager(interface="wlan0") as sim:      # private bus + dbusmock NM template
        sim.add_network("Home", "wpa-psk", "correct horse", signal=80)   # open|wep|wpa-psk|sae|wpa-eap
        sim.add_network("Corp", "wpa-eap", "s3cret", identity="alice")
        sim.add_network("Hidden", "wpa-psk", "hiddenpass", hidden=True)
        sim.add_network("Flaky", "open", behaviour="hang")       # or "no_ip"; sim.set_behaviour(ssid, b)
        subprocess.run(["nmcli", "device", "wifi", "list"], env=sim.env)   # the REAL nmcli
        sim.nmcli("connection", "show")                          # same, as a CompletedProcess
        sim.set_connectivity("limited")                          # full|limited|portal|none, any time
        sim.remove_network("Home")                               # vanishes; its connection is lost
        sim.drop_connection()                                    # the active connection is lost
        sim.profiles(); sim.saved_secrets("Home")                # inspect saved profiles and secrets
        sim.reboot_autoconnect()                                 # boot: saved profile + saved secret only
        sim.restart()                                            # NM restarts: its name changes owner

Passwords are checked for real: ``nmcli connection up id X passwd-file F`` registers nmcli's secret
agent with the simulator, which asks it (SecretAgent.GetSecrets) for the secret the profile lacks.
Wrong or missing -> ``nmcli`` exits 4, "Secrets were required, but not provided"; right -> activated
and the secret is saved in the profile (psk-flags 0), as NetworkManager does (evidence:
devrig/nm_template.py docstring). Other failures: "The Wi-Fi network could not be found" (exit 4),
"IP configuration could not be reserved" (no_ip, exit 4), ``-w N`` timeout (hang, exit 3).
AP-mode profiles (802-11-wireless.mode ap) always activate. ``nmcli device connect wlan0``
brings up the best saved profile. Control calls use busctl; the template runs under /usr/bin/python3.

Namespaces (root)::

    from devrig.netns import NetnsPair

    with NetnsPair(interface="wlan0", gateway="192.168.42.1") as pair:   # random dev-/phone- names
        dnsmasq = pair.popen(pair.device, ["dnsmasq", ...])     # runs inside the "device"
        lease = pair.dhcp_lease()                               # {"ip", "router", "dns", "opt114", ...}
        pair.run(pair.phone, ["busybox", "nslookup", "example.com"], timeout=5)

pytest fixtures ``nm_sim`` and ``netns_pair`` (tests/conftest.py) wrap both; ``devrig.demo`` runs the
whole bundle on them (``bash scripts/demo.sh``).
"""
