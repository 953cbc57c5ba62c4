/* Unit tests for paddock-bench's flag and workload parsing (config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

static struct bench_config c;
static char err[256];

static int parse(const char *line)
{
	static char buf[1024];
	char *argv[64];
	int argc = 0;
	snprintf(buf, sizeof(buf), "paddock-bench %s", line);
	for (char *t = strtok(buf, " "); t && argc < 63; t = strtok(NULL, " "))
		argv[argc++] = t;
	argv[argc] = NULL;
	bench_config_defaults(&c);
	return bench_config_parse(&c, argc, argv, err, sizeof(err));
}

static void test_every_workload_name_round_trips(void **state)
{
	(void)state;
	for (int i = 0; i < BENCH_W__COUNT; i++) {
		enum bench_workload w;
		assert_int_equal(bench_workload_parse(bench_workload_name(i), &w, NULL), 0);
		assert_int_equal(w, i);
	}
}

static void test_unknown_workload_is_rejected(void **state)
{
	(void)state;
	enum bench_workload w;
	assert_int_equal(bench_workload_parse("gets", &w, NULL), -1);
	assert_int_equal(bench_workload_parse("", &w, NULL), -1);
	assert_int_equal(parse("--workload nope"), -1);
	assert_non_null(strstr(err, "nope"));
}

static void test_mix_with_ratio_sets_read_ratio(void **state)
{
	(void)state;
	assert_int_equal(parse("-W mix:0.75"), 0);
	assert_int_equal(c.workload, BENCH_W_MIX);
	assert_true(c.read_ratio == 0.75);
	assert_int_equal(parse("-W mix:1.5"), -1);
	assert_int_equal(parse("-W get:0.5"), -1);
	assert_int_equal(parse("--workload mix --read-ratio 0.5"), 0);
	assert_true(c.read_ratio == 0.5);
}

static void test_defaults_without_flags(void **state)
{
	(void)state;
	assert_int_equal(parse(""), 0);
	assert_string_equal(c.host, "127.0.0.1");
	assert_int_equal(c.port, 2181);
	assert_int_equal(c.workload, BENCH_W_GET);
	assert_int_equal(c.duration_ns, 10000000000ull);
	assert_true(c.rate == 0);
	assert_string_equal(c.prefix, "/paddock-bench");
}

static void test_all_flags_parse(void **state)
{
	(void)state;
	assert_int_equal(parse("--host ::1 -p 2191 -t 2 -c 64 -w 8 --rate 50k -W set -s 1k "
			       "-k 10k -d 500ms --warmup 0 --prefix /b/x --json -q --cleanup "
			       "--plot /tmp/p.png --session-timeout 4000 --no-setup"),
			 0);
	assert_string_equal(c.host, "::1");
	assert_int_equal(c.port, 2191);
	assert_int_equal(c.threads, 2);
	assert_int_equal(c.conns, 64);
	assert_int_equal(c.window, 8);
	assert_true(c.rate == 50000);
	assert_int_equal(c.workload, BENCH_W_SET);
	assert_int_equal(c.value_size, 1024);
	assert_int_equal(c.keys, 10000);
	assert_int_equal(c.duration_ns, 500000000ull);
	assert_int_equal(c.warmup_ns, 0);
	assert_string_equal(c.prefix, "/b/x");
	assert_int_equal(c.json, 1);
	assert_int_equal(c.quiet, 1);
	assert_int_equal(c.cleanup, 1);
	assert_int_equal(c.no_setup, 1);
	assert_int_equal(c.session_timeout_ms, 4000);
	assert_string_equal(c.plot, "/tmp/p.png");
}

static void test_durations(void **state)
{
	(void)state;
	uint64_t ns;
	assert_int_equal(bench_parse_duration("2", &ns), 0);
	assert_int_equal(ns, 2000000000ull);
	assert_int_equal(bench_parse_duration("1.5s", &ns), 0);
	assert_int_equal(ns, 1500000000ull);
	assert_int_equal(bench_parse_duration("250us", &ns), 0);
	assert_int_equal(ns, 250000ull);
	assert_int_equal(bench_parse_duration("2m", &ns), 0);
	assert_int_equal(ns, 120000000000ull);
	assert_int_equal(bench_parse_duration("10x", &ns), -1);
	assert_int_equal(bench_parse_duration("-1s", &ns), -1);
	assert_int_equal(parse("-d 0"), -1);
}

static void test_sizes_and_counts(void **state)
{
	(void)state;
	uint64_t n;
	assert_int_equal(bench_parse_count("4k", &n), 0);
	assert_int_equal(n, 4000);
	assert_int_equal(bench_parse_count("2m", &n), 0);
	assert_int_equal(n, 2000000);
	assert_int_equal(bench_parse_bytes("4k", &n), 0);
	assert_int_equal(n, 4096);
	assert_int_equal(bench_parse_bytes("k", &n), -1);
	assert_int_equal(bench_parse_bytes("12q", &n), -1);
	assert_int_equal(parse("--value-size 2m"), -1); /* over ZooKeeper's 1 MB */
	assert_int_equal(parse("--keys 0"), -1);
}

static void test_bad_values_name_the_flag(void **state)
{
	(void)state;
	assert_int_equal(parse("--port 70000"), -1);
	assert_non_null(strstr(err, "--port"));
	assert_int_equal(parse("-w 0"), -1);
	assert_non_null(strstr(err, "--window"));
	assert_int_equal(parse("--prefix relative"), -1);
	assert_int_equal(parse("--prefix /trailing/"), -1);
	assert_int_equal(parse("--prefix /"), -1);
	assert_int_equal(parse("--json --csv"), -1);
	assert_int_equal(parse("--bogus"), -1);
	assert_int_equal(parse("--port"), -1);
	assert_int_equal(parse("stray"), -1);
}

static void test_servers_list_parses_like_a_connect_string(void **state)
{
	(void)state;
	assert_int_equal(parse("-h 10.0.0.9 -p 2200"), 0);
	assert_int_equal(c.nservers, 1); /* -h/-p: one server */
	assert_string_equal(c.server_host[0], "10.0.0.9");
	assert_int_equal(c.server_port[0], 2200);
	assert_int_equal(parse("--servers 127.0.0.1:2181,localhost:2182,::1:2183"), 0);
	assert_int_equal(c.nservers, 3);
	assert_string_equal(c.server_host[1], "localhost");
	assert_int_equal(c.server_port[1], 2182);
	assert_string_equal(c.server_host[2], "::1"); /* the last colon splits */
	assert_int_equal(c.server_port[2], 2183);
	assert_string_equal(c.host, "127.0.0.1"); /* the first is the report's */
	assert_int_equal(c.port, 2181);
	assert_int_equal(parse("--servers a:1,b"), -1);
	assert_non_null(strstr(err, "'b'"));
	assert_int_equal(parse("--servers a:1,b:0"), -1);
	assert_non_null(strstr(err, "port"));
	assert_int_equal(parse("--servers a:1,,b:2"), -1);
	assert_int_equal(parse("--servers :2181"), -1);
	assert_int_equal(parse("--servers a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9,j:10,k:11,l:12,"
			       "m:13,n:14,o:15,p:16,q:17"),
			 -1);
	assert_non_null(strstr(err, "at most 16"));
}

static void test_window_goes_up_to_16m(void **state)
{
	(void)state;
	assert_int_equal(parse("-w 16m -r 100k"), 0); /* overload: a deep backlog */
	assert_int_equal(c.window, 16000000);
	assert_int_equal(parse("-w 16000001"), -1);
	assert_non_null(strstr(err, "--window"));
}

static void test_threads_never_exceed_connections(void **state)
{
	(void)state;
	assert_int_equal(parse("-t 8 -c 3"), 0);
	assert_int_equal(c.threads, 3);
}

static void test_watch_fanout_needs_two_sessions(void **state)
{
	(void)state;
	assert_int_equal(parse("-W watch-fanout -c 1"), -1);
	assert_int_equal(parse("-W watch-fanout -c 2"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_workload_name_round_trips),
		cmocka_unit_test(test_unknown_workload_is_rejected),
		cmocka_unit_test(test_mix_with_ratio_sets_read_ratio),
		cmocka_unit_test(test_defaults_without_flags),
		cmocka_unit_test(test_all_flags_parse),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes_and_counts),
		cmocka_unit_test(test_bad_values_name_the_flag),
		cmocka_unit_test(test_servers_list_parses_like_a_connect_string),
		cmocka_unit_test(test_window_goes_up_to_16m),
		cmocka_unit_test(test_threads_never_exceed_connections),
		cmocka_unit_test(test_watch_fanout_needs_two_sessions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
