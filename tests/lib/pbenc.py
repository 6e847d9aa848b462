"""Hand-made protobuf encoding for tests that must send what a real agent
never would (hostile strings, unknown enum values): Debian's python has no
protobuf runtime for our schema. Field numbers are proto/hitless.proto's.

    msg(field(1, varint(1)), field(10, msg(field(1, text("db1")))))

returns bytes; .hex() gives a curve_client.py `send` line."""


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number, value):
    """value: an int (varint) or bytes (length-delimited)."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    return varint(number << 3 | 2) + varint(len(value)) + value


def text(s):
    return s.encode("utf-8", "surrogateescape")


def msg(*fields):
    return b"".join(fields)


def agent_message(body_field, body):
    """AgentMessage{protocol_version = 1, <body_field> = body}."""
    return msg(field(1, 1), field(body_field, body))


HELLO, HEARTBEAT, COMMAND_STATUS = 10, 11, 12
