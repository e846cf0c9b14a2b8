"""Sends identical byte sequences to Debian's redis-server 7 and to ReplicaKV and
requires byte-identical replies: commands, wrong arity, wrong types, overflow,
syntax errors, transactions, and malformed protocol."""

from common import Node, RedisServer, check, parse_args, raw_roundtrip, run_tests


def cmd(*args):
    """RESP multibulk bytes for one command."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def seq(*commands):
    return b"".join(cmd(*c) for c in commands)


CASES = {
    # --- strings ---
    "ping": seq(["PING"], ["PING", "hello"], ["ping", "a", "b"], ["ECHO", "x"], ["ECHO"]),
    "set_get": seq(["SET", "k", "v"], ["GET", "k"], ["GET", "missing"], ["get", "k", "x"],
                   ["SET", "k"], ["GET"]),
    "set_options": seq(["SET", "k", "a", "XX"], ["SET", "k", "a", "NX"], ["SET", "k", "b", "NX"],
                       ["SET", "k", "c", "GET"], ["SET", "k", "d", "NX", "XX"],
                       ["SET", "k", "d", "xx", "get"], ["SET", "k2", "e", "NX", "GET"],
                       ["SET", "k", "v", "BOGUS"], ["GET", "k"]),
    "setnx_getset_getdel": seq(["SETNX", "a", "1"], ["SETNX", "a", "2"], ["GETSET", "a", "3"],
                               ["GETSET", "new", "1"], ["GETDEL", "a"], ["GETDEL", "a"], ["GET", "a"]),
    "del_exists": seq(["SET", "a", "1"], ["SET", "b", "2"], ["EXISTS", "a", "a", "b", "c"],
                      ["DEL", "a", "c"], ["DEL"], ["EXISTS", "a"], ["EXISTS"]),
    "mset_mget": seq(["MSET", "a", "1", "b", "2"], ["MGET", "a", "b", "c"], ["MSET", "a"],
                     ["MSET", "a", "1", "b"], ["MSETNX", "a", "9", "z", "1"],
                     ["MSETNX", "y", "1", "z", "2"], ["MGET", "a", "y", "z"], ["MGET"]),
    "incr_decr": seq(["INCR", "n"], ["INCRBY", "n", "10"], ["DECR", "n"], ["DECRBY", "n", "5"],
                     ["INCRBY", "n", "abc"], ["INCRBY", "n", "1.5"], ["INCRBY", "n", " 1"],
                     ["INCRBY", "n", "-0"], ["INCRBY", "n", "+1"], ["INCRBY", "n", "01"],
                     ["DECRBY", "n", "-9223372036854775808"], ["INCR"]),
    "incr_errors": seq(["SET", "s", "hello"], ["INCR", "s"], ["SET", "big", "9223372036854775807"],
                       ["INCR", "big"], ["SET", "small", "-9223372036854775808"], ["DECR", "small"],
                       ["INCRBY", "big", "9223372036854775808"], ["SET", "sp", " 5"], ["INCR", "sp"]),
    "incrbyfloat": seq(["INCRBYFLOAT", "f", "10.5"], ["INCRBYFLOAT", "f", "0.1"],
                       ["INCRBYFLOAT", "f", "-5"], ["INCRBYFLOAT", "f", "5.0e3"],
                       ["INCRBYFLOAT", "f", "abc"], ["INCRBYFLOAT", "f", "inf"],
                       ["INCRBYFLOAT", "f", " 1"], ["INCRBYFLOAT", "f", ""],
                       ["SET", "g", "1e5"], ["INCRBYFLOAT", "g", "1"],
                       ["SET", "h", "abc"], ["INCRBYFLOAT", "h", "1"],
                       ["INCRBYFLOAT", "z", "0.0000001"], ["INCRBYFLOAT", "z", "-0.0000001"]),
    "append_strlen": seq(["APPEND", "a", "x1"], ["APPEND", "a", " x2"], ["STRLEN", "a"],
                         ["STRLEN", "missing"], ["GET", "a"], ["APPEND", "a"], ["STRLEN"]),
    "binary_values": seq(["SET", b"k\x00\r\n", b"\x00\xff\r\nv"], ["GET", b"k\x00\r\n"],
                         ["STRLEN", b"k\x00\r\n"], ["SET", "", ""], ["GET", ""], ["EXISTS", ""]),
    "dbsize_flush": seq(["MSET", "a", "1", "b", "2"], ["DBSIZE"], ["DBSIZE", "x"],
                        ["FLUSHALL", "BOGUS"], ["FLUSHALL", "a", "b"], ["FLUSHALL", "ASYNC"],
                        ["DBSIZE"], ["SET", "c", "1"], ["FLUSHDB", "sync"], ["DBSIZE"],
                        ["FLUSHALL"]),
    "scan_errors": seq(["SCAN", "abc"], ["SCAN", "0", "COUNT", "0"], ["SCAN", "0", "COUNT"],
                       ["SCAN", "0", "COUNT", "x"], ["SCAN", "0", "FOO", "bar"], ["SCAN"],
                       ["SCAN", " 0"], ["SET", "only", "1"],
                       ["SCAN", "0", "MATCH", "o*", "COUNT", "1000"],
                       ["SCAN", "0", "MATCH", "x*", "COUNT", "1000"], ["KEYS", "o*"]),
    "type": seq(["SET", "s", "1"], ["TYPE", "s"], ["TYPE", "none"], ["TYPE"]),
    # --- unknown commands and case ---
    "unknown": seq(["FOO"], ["FOO", "a", "b"], ["foo", "x" * 200, "y"],
                   ["bar", "a" * 60, "b" * 60, "c" * 60], ["SeT", "k", "v"], ["gEt", "k"]),
    # --- connection ---
    "select": seq(["SELECT", "0"], ["SELECT", "abc"], ["SELECT", "99999999999"],
                  ["SELECT", "-1"], ["SELECT"]),
    "auth_without_password": seq(["AUTH", "x"], ["AUTH", "default", "x"], ["AUTH", "bob", "x"],
                                 ["AUTH", "a", "b", "c"], ["AUTH"]),
    "hello_errors": seq(["HELLO", "4"], ["HELLO", "abc"], ["HELLO", "1"], ["HELLO", "2", "foo"],
                        ["HELLO", "2", "SETNAME"]),
    "client_names": seq(["CLIENT", "GETNAME"], ["CLIENT", "SETNAME", "app-1"],
                        ["CLIENT", "GETNAME"], ["CLIENT", "SETNAME", "a b"],
                        ["CLIENT", "SETNAME"], ["CLIENT", "FOO"], ["CLIENT"]),
    "quit": seq(["SET", "a", "1"], ["QUIT"], ["GET", "a"]),
    # --- transactions ---
    "multi_exec": seq(["MULTI"], ["SET", "a", "1"], ["INCR", "a"], ["GET", "a"], ["EXEC"]),
    "multi_runtime_error": seq(["SET", "s", "x"], ["MULTI"], ["INCR", "s"], ["SET", "t", "1"],
                               ["EXEC"], ["GET", "t"]),
    "multi_abort_unknown": seq(["MULTI"], ["SET", "a", "1"], ["FOO"], ["EXEC"], ["GET", "a"]),
    "multi_abort_arity": seq(["MULTI"], ["GET"], ["SET", "a", "1"], ["EXEC"], ["EXISTS", "a"]),
    "multi_misuse": seq(["EXEC"], ["DISCARD"], ["MULTI"], ["MULTI"], ["SET", "x", "1"],
                        ["DISCARD"], ["GET", "x"], ["MULTI"], ["EXEC"]),
    "multi_reads_only": seq(["SET", "a", "1"], ["MULTI"], ["GET", "a"], ["EXISTS", "a"],
                            ["PING"], ["EXEC"]),
    "many_args": cmd(*(["MSET"] + ["k", "v"] * 10001)) + cmd("DBSIZE"),
    # --- inline protocol ---
    "inline": b"SET a b\r\nGET a\nPING\r\n\r\n\n  \r\nECHO \"x y\"\r\nECHO 'a\\'b'\r\n"
              b"ECHO \"\\x41\\x4a\\n\"\r\n",
    "inline_unbalanced": b"PING\r\nECHO \"abc\r\nPING\r\n",
    "inline_unbalanced_single": b"ECHO 'abc\r\n",
    "inline_quote_then_text": b"ECHO \"a\"b\r\n",
    "inline_garbage": b"\x00\xff\xfe garbage\r\n\x01\x02\r\nPING\r\n",
    "inline_nul_in_args": b"ECHO a\x00b c\r\n",
    # --- malformed multibulk ---
    "mbulk_bad_count": b"*abc\r\nPING\r\n",
    "mbulk_negative_count": b"*-5\r\nPING\r\n",
    "mbulk_zero_count": b"*0\r\nPING\r\n",
    "mbulk_plus_count": b"*+1\r\n$4\r\nPING\r\n",
    "mbulk_expected_dollar": b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
    "mbulk_expected_dollar_space": b"*1\r\n \r\n",
    "mbulk_bad_bulk_len": b"*1\r\n$abc\r\n",
    "mbulk_negative_bulk_len": b"*1\r\n$-1\r\nPING\r\n",
    "mbulk_huge_bulk_len": b"*1\r\n$536870913\r\n",
    "mbulk_huge_count_then_command": b"*1048577\r\n$4\r\nPING\r\n",
    "mbulk_unchecked_terminator": b"*1\r\n$4\r\nPINGxx\r\n",
    "pipeline_then_error": seq(["SET", "a", "1"], ["INCR", "a"]) + b"*x\r\n" + cmd("GET", "a"),
}


def main():
    args = parse_args()
    redis = RedisServer()
    node = Node(args.binary).start()

    def make_test(name, data):
        def test():
            replies = []
            for port in (redis.port, node.port):
                check(raw_roundtrip(port, cmd("FLUSHALL") + cmd("PING", "flushed"), settle=0.05)
                      .endswith(b"$7\r\nflushed\r\n"), "FLUSHALL before the case")
                replies.append(raw_roundtrip(port, data, settle=0.1))
            check(replies[0] == replies[1],
                  f"{name}: replies differ\n  redis-server: {replies[0]!r}\n  replicakv:    {replies[1]!r}")
        test.__name__ = f"same_bytes_{name}"
        return test

    tests = [make_test(n, d) for n, d in CASES.items()]

    def test_oversized_inline_closes_like_redis():
        for port in (redis.port, node.port):
            out = raw_roundtrip(port, b"x" * 70000, settle=1)
            check(out == b"-ERR Protocol error: too big inline request\r\n", f"port {port}: {out!r}")

    def test_oversized_count_line_closes_like_redis():
        for port in (redis.port, node.port):
            out = raw_roundtrip(port, b"*" + b"1" * 70000, settle=1)
            check(out == b"-ERR Protocol error: too big mbulk count string\r\n", f"{port}: {out!r}")

    def test_server_survives_hostile_input():
        # A client that disconnects mid-command, then garbage: others are unaffected.
        raw_roundtrip(node.port, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc", settle=0.1)
        raw_roundtrip(node.port, bytes(range(256)) * 50, settle=0.1)
        raw_roundtrip(node.port, b"*1\r\n$2147483647\r\n" + b"a" * 100000, settle=0.1)
        check(raw_roundtrip(node.port, cmd("PING")) == b"+PONG\r\n", "node still answers")

    tests += [test_oversized_inline_closes_like_redis, test_oversized_count_line_closes_like_redis,
              test_server_survives_hostile_input]
    try:
        run_tests(tests)
    finally:
        redis.stop()
        node.cleanup()


if __name__ == "__main__":
    main()
