"""Wire-level behaviour: unknown opcodes, malformed and oversized frames,
pipelining and reply order, special paths, reconfig."""

import socket
import struct

import pytest

import jute
from jute import Err, Op, p_bool, p_int, p_string
from conftest import four_letter


def test_unknown_opcode_replies_unimplemented_then_closes(raw):
    c = raw()
    rep = c.request(999, b"", check=False)
    assert (rep.xid, rep.err) == (1, Err.UNIMPLEMENTED)
    assert c.is_closed_by_server(timeout=5)
    # the server keeps serving others
    assert raw().exists("/") is not None


@pytest.mark.parametrize("opcode", [10, 23, 99, 108, 1000, -5])
def test_other_unknown_opcodes(raw, opcode):
    # 10 is unused, 23 and 108 the next free numbers
    c = raw()
    rep = c.request(opcode, b"", check=False)
    assert rep.err == Err.UNIMPLEMENTED
    assert c.is_closed_by_server(timeout=5)


def test_delete_container_opcode_from_client_is_bad_arguments(raw, root):
    # deleteContainer (20) is internal to ZooKeeper; sent by a client it is
    # answered BADARGUMENTS from an error txn (a zxid used; connection
    # stays open, nothing deleted)
    c = raw()
    c.create(root)
    c.create(root + "/c", mode=jute.Mode.CONTAINER)
    for i, p in enumerate((root + "/c", root)):
        before = c.create(root + "/probe%d" % i)[1].czxid
        rep = c.request(Op.DELETE_CONTAINER, p_string(p), check=False)
        assert rep.err == Err.BAD_ARGUMENTS
        assert rep.zxid == before + 1
        assert c.exists(p) is not None


def test_pipelined_requests_answered_in_order(raw, root):
    c = raw()
    c.create(root)
    frames = b""
    for i in range(1, 201):
        if i % 3 == 0:
            body = p_int(i) + p_int(Op.CREATE) + p_string(
                "%s/n%d" % (root, i)) + jute.p_buffer(b"") + \
                jute.p_vector(jute.OPEN_ACL, jute.p_acl) + p_int(0)
        else:
            body = p_int(i) + p_int(Op.EXISTS) + p_string(root) + p_bool(False)
        frames += p_int(len(body)) + body
    c.sock.sendall(frames)
    xids = [c.read_reply(i).xid for i in range(1, 201)]
    assert xids == list(range(1, 201))
    assert len(c.get_children(root)) == 66


def test_read_after_write_sees_write(raw, root):
    # FIFO client order: pipelined write then read on one session
    c = raw()
    c.create(root, b"0")
    body_set = (p_int(1) + p_int(Op.SET_DATA) + p_string(root) +
                jute.p_buffer(b"new") + p_int(-1))
    body_get = p_int(2) + p_int(Op.GET_DATA) + p_string(root) + p_bool(False)
    c.sock.sendall(p_int(len(body_set)) + body_set +
                   p_int(len(body_get)) + body_get)
    c.xid = 2
    c.read_reply(1)
    rep = c.read_reply(2)
    assert rep.body.buffer() == b"new"


def test_reply_zxid_tracks_writes(raw, root):
    c = raw()
    rep = c.request(Op.CREATE2, p_string(root) + jute.p_buffer(b"") +
                    jute.p_vector(jute.OPEN_ACL, jute.p_acl) + p_int(0))
    rep.body.string()
    st = rep.body.stat()
    assert rep.zxid == st.czxid
    rep2 = c.request(Op.EXISTS, p_string(root) + p_bool(False))
    assert rep2.zxid >= rep.zxid


def test_xid_is_echoed_verbatim(raw):
    c = raw()
    for xid in (0, 7, 0x7fffffff, 12345):
        rep = c.request(Op.EXISTS, p_string("/") + p_bool(False), xid=xid)
        assert rep.xid == xid


def test_negative_frame_length_closes_connection(target, raw):
    s = socket.create_connection(("127.0.0.1", target.port), timeout=5)
    s.sendall(struct.pack("!i", -5))
    assert s.recv(10) == b""
    s.close()
    assert raw().exists("/") is not None


def test_oversized_frame_closes_only_that_connection(raw):
    other = raw()
    c = raw()
    # jute.maxbuffer default is 0xfffff
    c.sock.sendall(struct.pack("!i", 0xfffff + 1024) + b"x" * 1000)
    assert c.is_closed_by_server(timeout=5)
    assert other.exists("/") is not None


def test_data_larger_than_maxbuffer_is_rejected(raw, root):
    c = raw()
    c.create(root)
    big = b"x" * (1024 * 1024 + 10)
    with pytest.raises((jute.Closed, jute.ZKError, OSError)):
        c.create(root + "/big", big)
    assert raw().exists(root + "/big") is None


def test_truncated_request_body(raw, root):
    # ZooKeeper 3.8 answers a request whose record is cut short with
    # MARSHALLINGERROR (-5) and keeps the connection open.  (paddock may
    # instead close the connection; both are accepted here.)  Either way
    # the server survives and other sessions are unaffected.
    other = raw()
    c = raw()
    c.send_frame(p_int(5) + p_int(Op.GET_DATA))
    try:
        rep = c.read_reply(5)
        assert rep.err == Err.MARSHALLING_ERROR
    except jute.Closed:
        pass
    assert other.exists("/") is not None


def test_frame_shorter_than_header_closes(raw):
    c = raw()
    c.send_frame(b"\x00\x00\x00\x05")
    assert c.is_closed_by_server(timeout=5)
    assert raw().exists("/") is not None


def test_garbage_connect_request_closes(target, raw):
    s = socket.create_connection(("127.0.0.1", target.port), timeout=5)
    s.sendall(struct.pack("!i", 8) + b"\xff" * 8)
    try:
        data = s.recv(100)
    except ConnectionResetError:
        data = b""
    assert data == b""
    s.close()
    assert raw().exists("/") is not None


def test_delete_of_root_and_system_nodes_is_bad_arguments(raw):
    c = raw()
    for p in ("/", "/zookeeper", "/zookeeper/quota"):
        with pytest.raises(jute.ZKError) as ei:
            c.delete(p)
        assert ei.value.code == Err.BAD_ARGUMENTS, p


def test_zookeeper_config_is_read_only_to_world(raw):
    c = raw()
    with pytest.raises(jute.ZKError) as ei:
        c.set_data("/zookeeper/config", b"x")
    assert ei.value.code == Err.NO_AUTH
    acl = c.request(Op.GET_ACL, p_string("/zookeeper/config")).body.vector(
        jute.Reader.acl)
    assert acl == [(jute.Perm.READ, "world", "anyone")]


def test_reconfig_is_disabled_in_standalone(raw):
    c = raw()
    body = (p_string(None) + p_string(None) + p_string(None) +
            jute.p_long(-1))
    rep = c.request(Op.RECONFIG, body, check=False)
    assert rep.err == -123    # RECONFIGDISABLED


def test_four_letter_word_after_session_is_a_frame(raw):
    # once a connection has sent a ConnectRequest, "ruok" bytes are just a
    # (huge) frame length: the connection is closed
    c = raw()
    c.sock.sendall(b"ruok")
    assert c.is_closed_by_server(timeout=5)


def test_many_concurrent_sessions(raw, target):
    clients = [raw() for _ in range(40)]
    for c in clients:
        assert c.exists("/zookeeper") is not None
    assert "Connections: " in four_letter(target.hosts, "srvr")


# ----------------------------------------- replies the Java client parses

def _add_watch_outcomes(c, root):
    """(err, body bytes) of addWatch in both modes and a bad mode, and
    whether the connection still serves afterwards."""
    out = []
    for mode in (0, 1, 7, -1):
        rep = c.request(Op.ADD_WATCH, p_string(root) + p_int(mode),
                        check=False)
        out.append((mode, rep.err, rep.body.remaining()))
    out.append(("alive", c.exists("/") is not None))
    # the bad watcher types of removeWatches / checkWatches, too
    for op in (Op.REMOVE_WATCHES, Op.CHECK_WATCHES):
        for wtype in (0, 6, 3):
            rep = c.request(op, p_string(root) + p_int(wtype), check=False)
            out.append((op, wtype, rep.err, rep.body.remaining()))
    out.append(("alive", c.exists("/") is not None))
    return out


@pytest.mark.compare
def test_add_watch_reply_matches_zookeeper(raw, root, ref_raw, ref_root):
    # ZooKeeper answers addWatch with an ErrorResponse (an int, 0) after
    # the header; the Java client reads it and drops the connection if it
    # is missing
    got = _add_watch_outcomes(raw(), root)
    want = _add_watch_outcomes(ref_raw(), ref_root)
    assert got == want
    assert got[0] == (0, 0, 4)  # 4 body bytes


@pytest.mark.compare
@pytest.mark.parametrize("enabled", [None, "true", "false"])
def test_reconfig_answer_matches_zookeeper(server_factory, enabled):
    # standalone: RECONFIGDISABLED unless reconfigEnabled=true, then
    # UNIMPLEMENTED (ZooKeeperServer has no reconfig of its own)
    errs = {}
    for kind in ("paddock", "zookeeper"):
        srv = server_factory({"reconfigEnabled": enabled}, kind=kind)
        c = jute.open_session(srv.hosts)
        body = (p_string(None) + p_string(None) + p_string(None) +
                jute.p_long(-1))
        before = c.create("/before")[1].czxid
        rep = c.request(Op.RECONFIG, body, check=False)
        after = c.create("/after")[1].czxid
        # refused from an error txn: it uses a zxid on both
        errs[kind] = (rep.err, rep.body.remaining(), after - before)
        c.close_socket()
    assert errs["paddock"] == errs["zookeeper"]


def _who(c, users):
    for u in users:
        c.auth("digest", "%s:pw" % u)
    return c.who_am_i()


@pytest.mark.compare
def test_whoami_order_matches_zookeeper(raw, ref_raw):
    # ZooKeeper keeps a connection's ids in a ConcurrentHashMap set and
    # lists them in its iteration order, not in the order they came
    for users in (["alice"], ["bob", "alice", "carol"],
                  ["u%d" % i for i in range(7)],
                  # (outside the BMP ZooKeeper's jute writes CESU-8:
                  # another difference, not this test's)
                  ["zo\u00eb", "\u65e5\u672c", "caf\u00e9-\u00e0"]):
        assert _who(raw(), users) == _who(ref_raw(), users)
