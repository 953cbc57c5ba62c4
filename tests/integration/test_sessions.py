"""Sessions: timeout negotiation, expiry, reconnect with id+password, wrong
password, close, lastZxidSeen, maxClientCnxns."""

import time

import pytest
from kazoo.client import KazooState

import jute
from jute import Mode
from util import wait_for

EXPIRED_CONNECT_RESPONSE = (jute.p_int(0) + jute.p_int(0) + jute.p_long(0) +
                            jute.p_buffer(b"\x00" * 16) + b"\x00")


def test_session_timeout_negotiated_within_min_max(raw):
    # server config: minSessionTimeout=1000, maxSessionTimeout=40000
    assert raw(timeout_ms=100).negotiated_timeout == 1000
    assert raw(timeout_ms=1000000).negotiated_timeout == 40000
    assert raw(timeout_ms=7000).negotiated_timeout == 7000


def test_connect_response_fields(raw):
    c = raw(connect=False)
    resp = c.connect(timeout_ms=10000)
    assert resp.protocol_version == 0
    assert resp.session_id != 0
    assert len(resp.passwd) == 16
    assert resp.read_only is False
    assert len(c.connect_frame) == 4 + 4 + 8 + 4 + 16 + 1


def test_read_only_byte_echoed_only_if_sent(raw):
    # 3.4-era clients omit the trailing readOnly byte; the server must then
    # omit it from the ConnectResponse too.
    c = raw(connect=False)
    resp = c.connect(send_read_only=False)
    assert resp.read_only is None
    assert len(c.connect_frame) == 4 + 4 + 8 + 4 + 16
    assert c.exists("/") is not None


def test_session_ids_are_unique(raw):
    ids = {raw().session_id for _ in range(5)}
    assert len(ids) == 5


def test_kazoo_session_expiry_is_reported(target, make_zk, root):
    # Expire a kazoo session by stealing it: a raw client reconnects with
    # the same id+password and then closes the session.
    c = make_zk(timeout=4.0)
    states = []
    c.add_listener(states.append)
    c.create(root, b"", ephemeral=True)
    sid, pw = c.client_id
    thief = jute.RawClient(target.hosts)
    try:
        thief.connect(timeout_ms=4000, session_id=sid, passwd=pw)
        thief.close_session()
    finally:
        thief.close_socket()
    wait_for(lambda: KazooState.LOST in states, timeout=20,
             what="kazoo to see the session expire")
    # kazoo starts a new session automatically afterwards; the ephemeral of
    # the old session is gone
    wait_for(lambda: c.connected, timeout=20, what="kazoo reconnect")
    assert c.client_id[0] != sid
    assert c.exists(root) is None


def test_session_expires_without_pings(raw, root):
    a = raw(timeout_ms=1000)
    a.create(root, b"", mode=Mode.EPHEMERAL)
    sid, pw = a.session_id, a.passwd
    watcher = raw()
    wait_for(lambda: watcher.exists(root) is None, timeout=10,
             what="session expiry")
    # reconnecting to an expired session: ConnectResponse with timeout 0,
    # session id 0 and a zero password, then the server closes.
    b = raw(connect=False)
    resp = b.connect(session_id=sid, passwd=pw)
    assert (resp.timeout, resp.session_id) == (0, 0)
    assert b.connect_frame == EXPIRED_CONNECT_RESPONSE
    assert b.is_closed_by_server(timeout=5)


def test_pings_keep_session_alive(raw, root):
    a = raw(timeout_ms=1000)
    a.create(root, b"", mode=Mode.EPHEMERAL)
    t_end = time.monotonic() + 3.5
    while time.monotonic() < t_end:
        rep = a.ping()
        assert rep.xid == -2 and rep.err == 0
        time.sleep(0.25)
    assert a.exists(root) is not None


def test_ping_reply_carries_last_zxid(raw, root):
    a = raw()
    _, st = a.create(root)
    rep = a.ping()
    assert rep.zxid >= st.czxid


def test_reconnect_with_session_id_keeps_session(raw, root):
    a = raw(timeout_ms=10000)
    a.create(root, b"", mode=Mode.EPHEMERAL)
    sid, pw = a.session_id, a.passwd
    a.close_socket()
    b = raw(connect=False)
    resp = b.connect(timeout_ms=10000, session_id=sid, passwd=pw)
    assert resp.session_id == sid and resp.passwd == pw
    assert b.exists(root).ephemeralOwner == sid
    assert b.get_ephemerals(root) == [root]


def test_reconnect_with_wrong_password_is_refused(raw, root):
    a = raw(timeout_ms=10000)
    a.create(root, b"", mode=Mode.EPHEMERAL)
    sid, pw = a.session_id, a.passwd
    bad = bytes(x ^ 0xFF for x in pw)
    b = raw(connect=False)
    resp = b.connect(session_id=sid, passwd=bad)
    assert (resp.timeout, resp.session_id) == (0, 0)
    assert b.connect_frame == EXPIRED_CONNECT_RESPONSE
    assert b.is_closed_by_server(timeout=5)
    # Surprise: ZooKeeper closes the session's EXISTING connection before it
    # checks the password, so the rightful owner is disconnected too...
    assert a.is_closed_by_server(timeout=5)
    # ...but the session itself survives and can be resumed.
    c = raw(connect=False)
    assert c.connect(session_id=sid, passwd=pw).session_id == sid
    assert c.exists(root).ephemeralOwner == sid


def test_reconnect_to_unknown_session_is_refused(raw):
    b = raw(connect=False)
    b.connect(session_id=0x1234567, passwd=b"\x00" * 16)
    assert b.connect_frame == EXPIRED_CONNECT_RESPONSE
    assert b.is_closed_by_server(timeout=5)


def test_close_session_removes_ephemerals_and_closes(raw, root):
    a = raw()
    a.create(root, b"", mode=Mode.EPHEMERAL)
    sid, pw = a.session_id, a.passwd
    rep = a.close_session()
    assert rep.err == 0 and rep.body.remaining() == 0
    assert a.is_closed_by_server(timeout=5)
    other = raw()
    assert other.exists(root) is None
    b = raw(connect=False)
    b.connect(session_id=sid, passwd=pw)
    assert b.connect_frame == EXPIRED_CONNECT_RESPONSE


def test_kazoo_close_then_session_is_gone(make_zk, root):
    a = make_zk()
    a.create(root, b"", ephemeral=True)
    a.stop()
    b = make_zk()
    assert b.exists(root) is None


def test_connect_with_future_last_zxid_is_refused(raw):
    # A client that has seen a newer zxid than the server must not get a
    # session from it: ZooKeeper closes the connection without a reply.
    c = raw(connect=False)
    with pytest.raises(jute.Closed):
        c.connect(last_zxid=1 << 60)


def test_request_before_connect_closes_connection(raw):
    c = raw(connect=False)
    c.send_frame(jute.p_int(1) + jute.p_int(jute.Op.EXISTS) +
                 jute.p_string("/") + jute.p_bool(False))
    assert c.is_closed_by_server(timeout=5)


@pytest.mark.slow
def test_max_client_cnxns_per_ip(server_factory):
    srv = server_factory({"maxClientCnxns": 2})
    a = jute.open_session(srv.hosts)
    b = jute.open_session(srv.hosts)
    try:
        # the third connection from this IP is accepted and closed at once
        # (the connect may even fail with EPIPE/ECONNRESET)
        with pytest.raises((jute.Closed, OSError)):
            c = jute.RawClient(srv.hosts)
            try:
                c.connect()
                c.exists("/")
            finally:
                c.close_socket()
        # the existing two still work
        assert a.exists("/") is not None and b.exists("/") is not None
        b.close_session()
        b.close_socket()
        time.sleep(0.3)
        d = jute.open_session(srv.hosts)
        assert d.exists("/") is not None
        d.close_socket()
    finally:
        a.close_socket()
        b.close_socket()
