"""Names for numbers that appear in packets: ICMP / ICMPv6 types and codes, IP protocol numbers.

Sources: the IANA registries "Internet Control Message Protocol (ICMP) Parameters",
"Internet Control Message Protocol version 6 (ICMPv6) Parameters" and "Assigned Internet Protocol
Numbers" (names written out here, lower case for messages, as the registries spell protocols).
"""

from __future__ import annotations

ICMP_TYPES: dict[int, str] = {
    0: "echo reply",
    3: "destination unreachable",
    4: "source quench",
    5: "redirect",
    6: "alternate host address",
    8: "echo request",
    9: "router advertisement",
    10: "router solicitation",
    11: "time exceeded",
    12: "parameter problem",
    13: "timestamp request",
    14: "timestamp reply",
    15: "information request",
    16: "information reply",
    17: "address mask request",
    18: "address mask reply",
    30: "traceroute",
    40: "photuris",
    41: "experimental mobility",
    42: "extended echo request",
    43: "extended echo reply",
}

ICMP_CODES: dict[tuple[int, int], str] = {
    (3, 0): "net unreachable",
    (3, 1): "host unreachable",
    (3, 2): "protocol unreachable",
    (3, 3): "port unreachable",
    (3, 4): "fragmentation needed",
    (3, 5): "source route failed",
    (3, 6): "destination network unknown",
    (3, 7): "destination host unknown",
    (3, 8): "source host isolated",
    (3, 9): "network administratively prohibited",
    (3, 10): "host administratively prohibited",
    (3, 11): "network unreachable for TOS",
    (3, 12): "host unreachable for TOS",
    (3, 13): "communication administratively prohibited",
    (3, 14): "host precedence violation",
    (3, 15): "precedence cutoff in effect",
    (5, 0): "redirect for network",
    (5, 1): "redirect for host",
    (5, 2): "redirect for TOS and network",
    (5, 3): "redirect for TOS and host",
    (11, 0): "TTL exceeded in transit",
    (11, 1): "fragment reassembly time exceeded",
    (12, 0): "pointer indicates the error",
    (12, 1): "missing a required option",
    (12, 2): "bad length",
}

ICMPV6_TYPES: dict[int, str] = {
    1: "destination unreachable",
    2: "packet too big",
    3: "time exceeded",
    4: "parameter problem",
    128: "echo request",
    129: "echo reply",
    130: "multicast listener query",
    131: "multicast listener report",
    132: "multicast listener done",
    133: "router solicitation",
    134: "router advertisement",
    135: "neighbor solicitation",
    136: "neighbor advertisement",
    137: "redirect",
    138: "router renumbering",
    139: "node information query",
    140: "node information response",
    141: "inverse neighbor discovery solicitation",
    142: "inverse neighbor discovery advertisement",
    143: "multicast listener report v2",
    144: "home agent address discovery request",
    145: "home agent address discovery reply",
    146: "mobile prefix solicitation",
    147: "mobile prefix advertisement",
    151: "multicast router advertisement",
    152: "multicast router solicitation",
    153: "multicast router termination",
    160: "extended echo request",
    161: "extended echo reply",
}

ICMPV6_CODES: dict[tuple[int, int], str] = {
    (1, 0): "no route to destination",
    (1, 1): "administratively prohibited",
    (1, 2): "beyond scope of source address",
    (1, 3): "address unreachable",
    (1, 4): "port unreachable",
    (1, 5): "source address failed ingress/egress policy",
    (1, 6): "reject route to destination",
    (3, 0): "hop limit exceeded in transit",
    (3, 1): "fragment reassembly time exceeded",
    (4, 0): "erroneous header field",
    (4, 1): "unrecognized next header",
    (4, 2): "unrecognized IPv6 option",
}

IP_PROTOCOLS: dict[int, str] = {
    0: "HOPOPT",
    1: "ICMP",
    2: "IGMP",
    3: "GGP",
    4: "IPv4",
    6: "TCP",
    8: "EGP",
    9: "IGP",
    17: "UDP",
    27: "RDP",
    33: "DCCP",
    41: "IPv6",
    43: "IPv6-Route",
    44: "IPv6-Frag",
    46: "RSVP",
    47: "GRE",
    50: "ESP",
    51: "AH",
    58: "IPv6-ICMP",
    59: "IPv6-NoNxt",
    60: "IPv6-Opts",
    88: "EIGRP",
    89: "OSPF",
    94: "IPIP",
    103: "PIM",
    108: "IPComp",
    112: "VRRP",
    115: "L2TP",
    132: "SCTP",
    136: "UDPLite",
    137: "MPLS-in-IP",
    143: "Ethernet",
    255: "Reserved",
}


def _int(value: object) -> int | None:
    try:
        if value is None or value != value:  # None or NaN
            return None
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def icmp_type_name(icmp_type: object, v6: bool = False) -> str:
    """Name of an ICMP (or with ``v6`` ICMPv6) type; '' when unknown or missing."""
    n = _int(icmp_type)
    if n is None:
        return ""
    return (ICMPV6_TYPES if v6 else ICMP_TYPES).get(n, "")


def icmp_code_name(icmp_type: object, icmp_code: object, v6: bool = False) -> str:
    """Name of an ICMP type+code; falls back to the type's name when the code has none."""
    t, c = _int(icmp_type), _int(icmp_code)
    if t is None:
        return ""
    if c is not None:
        name = (ICMPV6_CODES if v6 else ICMP_CODES).get((t, c))
        if name:
            return name
    return icmp_type_name(t, v6)


def protocol_name(proto: object) -> str:
    """Name of an IP protocol given as a number or as its number in text ('47' → 'GRE').

    Names the kernel already wrote (``TCP``, ``UDP``, ...) are returned unchanged.
    """
    if proto is None or proto != proto:
        return ""
    n = _int(proto) if not isinstance(proto, str) or proto.isdigit() else None
    if n is None:
        return str(proto)
    return IP_PROTOCOLS.get(n, "")
