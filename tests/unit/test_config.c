/*
 * test_config.c — zoo.cfg parsing (config/config.c).
 *
 * Each test writes a temporary file with mkstemp, loads it and checks the
 * result, the error text (which must name the line) and the warnings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"

#define MAX_WARN 32

static char warns[MAX_WARN][1024];
static int n_warns;
static char err[1024];
static char tmp_path[64];
static struct zcfg cfg;

static void collect_warn(const char *line)
{
	if (n_warns < MAX_WARN)
		snprintf(warns[n_warns], sizeof(warns[0]), "%s", line);
	n_warns++;
}

static void write_tmp(const char *text)
{
	int fd;
	size_t len = strlen(text);

	strcpy(tmp_path, "/tmp/paddock-test-cfg-XXXXXX");
	fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* Load `text` as a config file; returns zcfg_load's result. */
static int load(const char *text)
{
	int rc;

	n_warns = 0;
	err[0] = '\0';
	write_tmp(text);
	rc = zcfg_load(&cfg, tmp_path, err, sizeof(err), collect_warn);
	unlink(tmp_path);
	return rc;
}

#define BASE "dataDir=/tmp/paddock\nclientPort=2181\n"

/* The error must start with "<path>:<line>: " and mention `what`. */
static void assert_err_at(int line, const char *what)
{
	char want[128];

	snprintf(want, sizeof(want), "%s:%d: ", tmp_path, line);
	if (strncmp(err, want, strlen(want)) || !strstr(err, what))
		fail_msg("error '%s' does not start with '%s' or lacks '%s'",
			 err, want, what);
}

static void assert_warned(const char *what)
{
	for (int i = 0; i < n_warns && i < MAX_WARN; i++)
		if (strstr(warns[i], what))
			return;
	fail_msg("no warning containing '%s' (%d warnings)", what, n_warns);
}

static void load_ok(const char *text)
{
	if (load(text) != 0)
		fail_msg("load failed: %s", err);
}

/* ---- defaults ----------------------------------------------------------- */

static void test_defaults_without_a_file(void **state)
{
	struct zcfg c;

	zcfg_defaults(&c);
	assert_int_equal(c.tick_time, 2000);
	assert_string_equal(c.data_dir, "./data");
	assert_string_equal(c.data_log_dir, "./data");
	assert_int_equal(c.client_port, 2181);
	assert_string_equal(c.client_port_address, "127.0.0.1");
	assert_int_equal(c.max_client_cnxns, 60);
	assert_int_equal(c.min_session_timeout, 4000);
	assert_int_equal(c.max_session_timeout, 40000);
	assert_string_equal(c.four_lw_whitelist, "srvr");
	assert_int_equal(c.init_limit, 10);
	assert_int_equal(c.sync_limit, 5);
	assert_int_equal(c.snap_count, 100000);
	assert_int_equal(c.prealloc_size, 64 * 1024 * 1024);
	assert_int_equal(c.jute_maxbuffer, 0xfffff);
	assert_true(c.force_sync);
	assert_string_equal(c.super_digest, "");
	assert_int_equal(c.snap_retain_count, 3);
	assert_int_equal(c.purge_interval, 0);
	assert_true(c.workers >= 1 && c.workers <= ZCFG_MAX_WORKERS);
	assert_true(c.standalone_enabled);
	assert_false(c.peer_type_observer);
	assert_int_equal(c.n_servers, 0);
	assert_string_equal(c.path, "");
}

static void test_workers_default_is_cores_minus_one(void **state)
{
	struct zcfg c;
	long n = sysconf(_SC_NPROCESSORS_ONLN) - 1;

	zcfg_defaults(&c);
	if (n < 1)
		n = 1;
	if (n > ZCFG_MAX_WORKERS)
		n = ZCFG_MAX_WORKERS;
	/* affinity may restrict us below the online count */
	assert_true(c.workers >= 1 && c.workers <= n);
}

static void test_minimal_file_listens_on_all_addresses(void **state)
{
	load_ok(BASE);
	assert_string_equal(cfg.client_port_address, "0.0.0.0");
	assert_int_equal(cfg.client_port, 2181);
	assert_string_equal(cfg.data_dir, "/tmp/paddock");
	assert_string_equal(cfg.data_log_dir, "/tmp/paddock");
	assert_int_equal(cfg.tick_time, 2000);
	assert_int_equal(cfg.min_session_timeout, 4000);
	assert_int_equal(cfg.max_session_timeout, 40000);
	assert_string_equal(cfg.four_lw_whitelist, "srvr");
	assert_string_equal(cfg.path, tmp_path);
	assert_int_equal(n_warns, 0);
}

static void test_missing_file_is_an_error_with_strerror(void **state)
{
	int rc = zcfg_load(&cfg, "/nonexistent/paddock/zoo.cfg", err,
			   sizeof(err), collect_warn);

	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "/nonexistent/paddock/zoo.cfg"));
	assert_non_null(strstr(err, "No such file or directory"));
}

static void test_directory_is_an_error(void **state)
{
	assert_int_equal(zcfg_load(&cfg, "/tmp", err, sizeof(err), NULL), -1);
	assert_non_null(strstr(err, "/tmp"));
}

static void test_failed_load_leaves_config_unchanged(void **state)
{
	zcfg_defaults(&cfg);
	assert_int_equal(load("dataDir=/x\ntickTime=5\nclientPort=zz\n"), -1);
	assert_int_equal(cfg.tick_time, 2000);
	assert_string_equal(cfg.data_dir, "./data");
}

static void test_null_warn_callback_is_allowed(void **state)
{
	write_tmp(BASE "admin.enableServer=false\nbogus=1\n");
	assert_int_equal(zcfg_load(&cfg, tmp_path, err, sizeof(err), NULL), 0);
	unlink(tmp_path);
}

/* ---- Properties syntax -------------------------------------------------- */

static void test_comments_and_blank_lines_are_skipped(void **state)
{
	load_ok("# a comment\n"
		"! also a comment\n"
		"   # indented comment\n"
		"\n"
		"   \t \n"
		BASE
		"tickTime=3000\n");
	assert_int_equal(cfg.tick_time, 3000);
	assert_int_equal(n_warns, 0);
}

static void test_separators_are_equivalent(void **state)
{
	load_ok("dataDir : /tmp/a\n"
		"clientPort 2182\n"
		"tickTime   =   2500   \n"
		"maxClientCnxns:7\n"
		"\tinitLimit\t\t12\n");
	assert_string_equal(cfg.data_dir, "/tmp/a");
	assert_int_equal(cfg.client_port, 2182);
	assert_int_equal(cfg.tick_time, 2500);
	assert_int_equal(cfg.max_client_cnxns, 7);
	assert_int_equal(cfg.init_limit, 12);
}

static void test_only_the_first_separator_is_consumed(void **state)
{
	/* Properties: "k = = v" has the value "= v" */
	assert_int_equal(load(BASE "tickTime = = 5\n"), -1);
	assert_err_at(3, "tickTime: not a number: '= 5'");
}

static void test_value_may_contain_separators(void **state)
{
	load_ok(BASE "dataLogDir=/tmp/a=b:c d\n");
	assert_string_equal(cfg.data_log_dir, "/tmp/a=b:c d");
}

static void test_backslash_continues_a_line(void **state)
{
	load_ok("dataDir=/tmp/\\\n"
		"      paddock\\\n"
		"\t/data\n"
		"clientPort=21\\\n"
		"81\n"
		"tickTime=1000\n");
	assert_string_equal(cfg.data_dir, "/tmp/paddock/data");
	assert_int_equal(cfg.client_port, 2181);
	assert_int_equal(cfg.tick_time, 1000);
}

static void test_continued_line_errors_name_its_first_line(void **state)
{
	assert_int_equal(load(BASE "\n"
			      "tickTime=1\\\n"
			      "  x\n"
			      "maxClientCnxns=5\n"), -1);
	assert_err_at(4, "tickTime: not a number: '1x'");
}

static void test_even_backslashes_do_not_continue(void **state)
{
	/* "a\\\\" is an escaped backslash, the next line is its own entry */
	load_ok(BASE "dataLogDir=/tmp/x\\\\\n"
		"tickTime=1234\n");
	assert_string_equal(cfg.data_log_dir, "/tmp/x\\");
	assert_int_equal(cfg.tick_time, 1234);
}

static void test_comment_lines_are_not_continued(void **state)
{
	load_ok(BASE "# comment \\\n"
		"tickTime=4321\n");
	assert_int_equal(cfg.tick_time, 4321);
}

static void test_continuation_line_may_start_with_hash(void **state)
{
	load_ok(BASE "dataLogDir=/tmp/a\\\n"
		"#b\n");
	assert_string_equal(cfg.data_log_dir, "/tmp/a#b");
}

static void test_crlf_and_cr_line_endings(void **state)
{
	load_ok("dataDir=/tmp/w\r\nclientPort=2000\r\ntickTime=10\\\r\n"
		"0\rmaxClientCnxns=9\r");
	assert_string_equal(cfg.data_dir, "/tmp/w");
	assert_int_equal(cfg.client_port, 2000);
	assert_int_equal(cfg.tick_time, 100);
	assert_int_equal(cfg.max_client_cnxns, 9);
}

static void test_crlf_line_numbers_count_once(void **state)
{
	assert_int_equal(load("dataDir=/x\r\nclientPort=1\r\n\r\n"
			      "tickTime=q\r\n"), -1);
	assert_err_at(4, "tickTime");
}

static void test_escapes_are_decoded(void **state)
{
	load_ok(BASE "dataLogDir=/tmp/a\\:b\\=c\\ d\\\\e\\qf\n"
		"paddock\\.workers=2\n"
		"DigestAuthenticationProvider.superDigest="
		"super:\\u0041\\u00e9\n");
	assert_string_equal(cfg.data_log_dir, "/tmp/a:b=c d\\eqf");
	assert_int_equal(cfg.workers, 2);
	assert_string_equal(cfg.super_digest, "super:A\xc3\xa9");
}

static void test_escaped_separator_stays_in_the_key(void **state)
{
	/* key "tick\=Time" is unknown; "tickTime" is not set by it */
	load_ok(BASE "tick\\=Time=5\n");
	assert_int_equal(cfg.tick_time, 2000);
	assert_warned("tick=Time: unknown key");
}

static void test_malformed_unicode_escape_is_an_error(void **state)
{
	assert_int_equal(load(BASE "dataLogDir=/tmp/\\u12g4\n"), -1);
	assert_err_at(3, "\\uxxxx");
}

static void test_surrogate_pair_escape_becomes_utf8(void **state)
{
	load_ok(BASE "dataLogDir=/tmp/\\ud83d\\ude00\n");
	assert_string_equal(cfg.data_log_dir, "/tmp/\xf0\x9f\x98\x80");
}

static void test_values_are_trimmed(void **state)
{
	load_ok("dataDir=   /tmp/sp   \t\n"
		"clientPort=  2181\t \n"
		"4lw.commands.whitelist =  ruok \n");
	assert_string_equal(cfg.data_dir, "/tmp/sp");
	assert_string_equal(cfg.four_lw_whitelist, "ruok");
}

static void test_last_value_of_a_repeated_key_wins(void **state)
{
	load_ok(BASE "tickTime=1000\ntickTime=3000\n");
	assert_int_equal(cfg.tick_time, 3000);
	assert_int_equal(n_warns, 1);
	assert_warned(":3: tickTime: given again on line 4");
}

static void test_overridden_bad_value_is_ignored_like_properties(void **state)
{
	load_ok(BASE "tickTime=oops\ntickTime=3000\n");
	assert_int_equal(cfg.tick_time, 3000);
}

static void test_key_order_does_not_matter_for_defaults(void **state)
{
	/* session timeouts default from the final tickTime */
	load_ok("tickTime=100\n" BASE);
	assert_int_equal(cfg.min_session_timeout, 200);
	assert_int_equal(cfg.max_session_timeout, 2000);
}

static void test_file_without_trailing_newline(void **state)
{
	load_ok(BASE "tickTime=777");
	assert_int_equal(cfg.tick_time, 777);
}

static void test_trailing_backslash_at_eof_is_dropped(void **state)
{
	load_ok(BASE "tickTime=778\\");
	assert_int_equal(cfg.tick_time, 778);
}

static void test_nul_byte_is_an_error(void **state)
{
	int fd;
	static const char text[] = BASE "tickTime=1\0002\n";

	strcpy(tmp_path, "/tmp/paddock-test-cfg-XXXXXX");
	fd = mkstemp(tmp_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1),
			 (ssize_t)sizeof(text) - 1);
	close(fd);
	assert_int_equal(zcfg_load(&cfg, tmp_path, err, sizeof(err), NULL),
			 -1);
	unlink(tmp_path);
	assert_err_at(3, "NUL");
}

/* ---- keys ---------------------------------------------------------------- */

static void test_every_used_key_is_parsed(void **state)
{
	load_ok("tickTime=1500\n"
		"dataDir=/tmp/paddock/d\n"
		"dataLogDir=/tmp/paddock/l\n"
		"clientPort=12181\n"
		"clientPortAddress=10.1.2.3\n"
		"maxClientCnxns=0\n"
		"minSessionTimeout=1000\n"
		"maxSessionTimeout=90000\n"
		"4lw.commands.whitelist=stat, ruok ,conf\n"
		"initLimit=20\n"
		"syncLimit=7\n"
		"snapCount=5000\n"
		"preAllocSize=1024\n"
		"jute.maxbuffer=4194304\n"
		"forceSync=no\n"
		"DigestAuthenticationProvider.superDigest=super:abc=\n"
		"autopurge.snapRetainCount=10\n"
		"autopurge.purgeInterval=24\n"
		"standaloneEnabled=false\n"
		"paddock.workers=3\n"
		"peerType=observer\n"
		"server.1=127.0.0.1:2888:3888\n");
	/* one participant with standaloneEnabled=false is an ensemble of
	 * one, which ZooKeeper warns about */
	assert_int_equal(n_warns, 1);
	assert_warned("no server failure will be tolerated");
	assert_int_equal(cfg.tick_time, 1500);
	assert_string_equal(cfg.data_dir, "/tmp/paddock/d");
	assert_string_equal(cfg.data_log_dir, "/tmp/paddock/l");
	assert_int_equal(cfg.client_port, 12181);
	assert_string_equal(cfg.client_port_address, "10.1.2.3");
	assert_int_equal(cfg.max_client_cnxns, 0);
	assert_int_equal(cfg.min_session_timeout, 1000);
	assert_int_equal(cfg.max_session_timeout, 90000);
	assert_string_equal(cfg.four_lw_whitelist, "stat,ruok,conf");
	assert_int_equal(cfg.init_limit, 20);
	assert_int_equal(cfg.sync_limit, 7);
	assert_int_equal(cfg.snap_count, 5000);
	assert_int_equal(cfg.prealloc_size, 1024 * 1024);
	assert_int_equal(cfg.jute_maxbuffer, 4194304);
	assert_false(cfg.force_sync);
	assert_string_equal(cfg.super_digest, "super:abc=");
	assert_int_equal(cfg.snap_retain_count, 10);
	assert_int_equal(cfg.purge_interval, 24);
	assert_false(cfg.standalone_enabled);
	assert_int_equal(cfg.workers, 3);
	assert_true(cfg.peer_type_observer);
	assert_int_equal(cfg.n_servers, 1);
}

static void test_tick_time_must_be_positive(void **state)
{
	assert_int_equal(load(BASE "tickTime=0\n"), -1);
	assert_err_at(3, "tickTime: out of range");
	assert_int_equal(load(BASE "tickTime=-5\n"), -1);
	assert_err_at(3, "tickTime");
}

static void test_non_numeric_values_are_errors_naming_the_line(void **state)
{
	static const char *keys[] = {
		"tickTime", "maxClientCnxns", "minSessionTimeout",
		"maxSessionTimeout", "initLimit", "syncLimit", "snapCount",
		"preAllocSize", "jute.maxbuffer", "autopurge.snapRetainCount",
		"autopurge.purgeInterval", "paddock.workers",
	};
	char text[256], what[128];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(text, sizeof(text), BASE "# c\n%s=12abc\n", keys[i]);
		assert_int_equal(load(text), -1);
		snprintf(what, sizeof(what), "%s: not a number: '12abc'",
			 keys[i]);
		assert_err_at(4, what);
	}
}

static void test_numbers_out_of_int_range_are_errors(void **state)
{
	assert_int_equal(load(BASE "maxClientCnxns=2147483648\n"), -1);
	assert_err_at(3, "maxClientCnxns: out of range");
	assert_int_equal(load(BASE "initLimit=99999999999999999999999\n"), -1);
	assert_err_at(3, "initLimit: out of range");
	assert_int_equal(load(BASE "preAllocSize=9223372036854775807\n"), -1);
	assert_err_at(3, "preAllocSize: out of range");
}

static void test_numbers_accept_a_plus_sign_like_java(void **state)
{
	load_ok(BASE "tickTime=+2100\n");
	assert_int_equal(cfg.tick_time, 2100);
}

static void test_numbers_reject_embedded_spaces(void **state)
{
	assert_int_equal(load(BASE "tickTime=21 00\n"), -1);
	assert_err_at(3, "tickTime: not a number");
}

static void test_client_port_must_be_a_port(void **state)
{
	assert_int_equal(load("dataDir=/x\nclientPort=abc\n"), -1);
	assert_err_at(2, "clientPort: not a port number: 'abc'");
	assert_int_equal(load("dataDir=/x\nclientPort=65536\n"), -1);
	assert_err_at(2, "clientPort: not a port number");
	load_ok("dataDir=/x\nclientPort=65535\n");
	assert_int_equal(cfg.client_port, 65535);
}

static void test_client_port_missing_is_an_error(void **state)
{
	assert_int_equal(load("dataDir=/x\n"), -1);
	assert_non_null(strstr(err, "clientPort is not set"));
	assert_int_equal(load("dataDir=/x\nclientPort=0\n"), -1);
	assert_non_null(strstr(err, "clientPort is not set"));
}

static void test_client_port_address_without_client_port_is_an_error(
	void **state)
{
	assert_int_equal(load("dataDir=/x\n\nclientPortAddress=1.2.3.4\n"),
			 -1);
	assert_err_at(3, "clientPortAddress is set but clientPort is not set");
}

static void test_client_port_address_ipv6_brackets_are_removed(void **state)
{
	load_ok(BASE "clientPortAddress=[::1]\n");
	assert_string_equal(cfg.client_port_address, "::1");
	load_ok(BASE "clientPortAddress=::\n");
	assert_string_equal(cfg.client_port_address, "::");
	assert_int_equal(load(BASE "clientPortAddress=[::1\n"), -1);
	assert_err_at(3, "clientPortAddress");
}

static void test_data_dir_is_required_in_a_file(void **state)
{
	assert_int_equal(load("clientPort=2181\n"), -1);
	assert_non_null(strstr(err, "dataDir is not set"));
}

static void test_empty_data_dir_is_an_error(void **state)
{
	assert_int_equal(load("clientPort=2181\ndataDir=\n"), -1);
	assert_err_at(2, "dataDir: empty value");
}

static void test_data_log_dir_defaults_to_data_dir(void **state)
{
	load_ok("dataDir=./rel/data\nclientPort=2181\n");
	assert_string_equal(cfg.data_log_dir, "./rel/data");
}

static void test_too_long_path_is_an_error(void **state)
{
	char *text = malloc(PATH_MAX + 64);

	assert_non_null(text);
	strcpy(text, "clientPort=1\ndataDir=/");
	memset(text + strlen(text), 'a', PATH_MAX);
	text[22 + PATH_MAX] = '\0';
	strcat(text, "\n");
	assert_int_equal(load(text), -1);
	assert_err_at(2, "dataDir: value too long");
	free(text);
}

static void test_session_timeouts_default_to_2x_and_20x_tick(void **state)
{
	load_ok(BASE "tickTime=3000\n");
	assert_int_equal(cfg.min_session_timeout, 6000);
	assert_int_equal(cfg.max_session_timeout, 60000);
}

static void test_only_one_session_timeout_given(void **state)
{
	load_ok(BASE "minSessionTimeout=1000\n");
	assert_int_equal(cfg.min_session_timeout, 1000);
	assert_int_equal(cfg.max_session_timeout, 40000);
	load_ok(BASE "maxSessionTimeout=5000\n");
	assert_int_equal(cfg.min_session_timeout, 4000);
	assert_int_equal(cfg.max_session_timeout, 5000);
}

static void test_session_timeout_minus_one_means_default(void **state)
{
	load_ok(BASE "minSessionTimeout=-1\nmaxSessionTimeout=-1\n");
	assert_int_equal(cfg.min_session_timeout, 4000);
	assert_int_equal(cfg.max_session_timeout, 40000);
}

static void test_min_session_timeout_above_max_is_an_error(void **state)
{
	assert_int_equal(load(BASE "minSessionTimeout=50000\n"), -1);
	assert_err_at(3, "minSessionTimeout (50000) must not be larger than "
		      "maxSessionTimeout (40000)");
	assert_int_equal(load(BASE "maxSessionTimeout=3000\n"), -1);
	assert_err_at(3, "must not be larger");
}

static void test_huge_tick_time_overflowing_defaults_is_an_error(
	void **state)
{
	assert_int_equal(load(BASE "tickTime=2000000000\n"), -1);
	assert_non_null(strstr(err, "too large"));
	load_ok(BASE "tickTime=2000000000\nminSessionTimeout=1\n"
		"maxSessionTimeout=2\n");
}

static void test_4lw_whitelist_default_is_srvr_only(void **state)
{
	load_ok(BASE);
	assert_true(zcfg_4lw_allowed(&cfg, "srvr"));
	assert_false(zcfg_4lw_allowed(&cfg, "ruok"));
	assert_false(zcfg_4lw_allowed(&cfg, "stat"));
	assert_false(zcfg_4lw_allowed(&cfg, "srv"));
	assert_false(zcfg_4lw_allowed(&cfg, ""));
}

static void test_4lw_whitelist_list_with_spaces(void **state)
{
	load_ok(BASE "4lw.commands.whitelist= stat , ruok,,\tmntr \n");
	assert_string_equal(cfg.four_lw_whitelist, "stat,ruok,mntr");
	assert_true(zcfg_4lw_allowed(&cfg, "stat"));
	assert_true(zcfg_4lw_allowed(&cfg, "ruok"));
	assert_true(zcfg_4lw_allowed(&cfg, "mntr"));
	assert_true(zcfg_4lw_allowed(&cfg, "srvr")); /* always */
	assert_false(zcfg_4lw_allowed(&cfg, "dump"));
	assert_false(zcfg_4lw_allowed(&cfg, "sta"));
	assert_false(zcfg_4lw_allowed(&cfg, "stats"));
}

static void test_4lw_whitelist_star_allows_everything(void **state)
{
	load_ok(BASE "4lw.commands.whitelist=stat, *\n");
	assert_string_equal(cfg.four_lw_whitelist, "*");
	assert_true(zcfg_4lw_allowed(&cfg, "dump"));
	assert_true(zcfg_4lw_allowed(&cfg, "wchc"));
	assert_true(zcfg_4lw_allowed(&cfg, "ruok"));
}

static void test_4lw_whitelist_empty_value_leaves_only_srvr(void **state)
{
	load_ok(BASE "4lw.commands.whitelist=\n");
	assert_string_equal(cfg.four_lw_whitelist, "");
	assert_true(zcfg_4lw_allowed(&cfg, "srvr"));
	assert_false(zcfg_4lw_allowed(&cfg, "ruok"));
}

static void test_bare_known_key_without_value_is_an_error(void **state)
{
	assert_int_equal(load(BASE "\n4lw.commands.whitelist\n"), -1);
	assert_err_at(4, "4lw.commands.whitelist: missing value");
	assert_int_equal(load(BASE "tickTime   \n"), -1);
	assert_err_at(3, "tickTime: missing value");
	assert_int_equal(load(BASE "server.1\n"), -1);
	assert_err_at(3, "server.1: missing value");
}

static void test_bare_unknown_key_is_only_a_warning(void **state)
{
	load_ok(BASE "somethingElse\n");
	assert_int_equal(n_warns, 1);
	assert_warned(":3: somethingElse: unknown key");
}

static void test_snap_count_decodes_hex_and_octal_like_integer_decode(
	void **state)
{
	load_ok(BASE "snapCount=0x100\n");
	assert_int_equal(cfg.snap_count, 256);
	load_ok(BASE "snapCount=#10\n");
	assert_int_equal(cfg.snap_count, 16);
	load_ok(BASE "snapCount=010\n");
	assert_int_equal(cfg.snap_count, 8);
	assert_int_equal(load(BASE "snapCount=08\n"), -1);
	assert_err_at(3, "snapCount: not a number");
}

static void test_snap_count_below_two_is_reset_with_a_warning(void **state)
{
	load_ok(BASE "snapCount=1\n");
	assert_int_equal(cfg.snap_count, 2);
	assert_int_equal(n_warns, 1);
	assert_warned(":3: snapCount");
}

static void test_prealloc_size_is_in_kib(void **state)
{
	load_ok(BASE "preAllocSize=65536\n");
	assert_int_equal(cfg.prealloc_size, 64 * 1024 * 1024);
	load_ok(BASE "preAllocSize=0\n");
	assert_int_equal(cfg.prealloc_size, 0);
	assert_int_equal(load(BASE "preAllocSize=-1\n"), -1);
	assert_err_at(3, "preAllocSize: out of range");
	assert_int_equal(load(BASE "preAllocSize=0x10\n"), -1);
	assert_err_at(3, "preAllocSize: not a number");
}

static void test_jute_maxbuffer_accepts_hex(void **state)
{
	load_ok(BASE "jute.maxbuffer=0xfffff\n");
	assert_int_equal(cfg.jute_maxbuffer, 0xfffff);
	load_ok(BASE "jute.maxbuffer=10485760\n");
	assert_int_equal(cfg.jute_maxbuffer, 10485760);
	assert_int_equal(load(BASE "jute.maxbuffer=0\n"), -1);
	assert_err_at(3, "jute.maxbuffer: out of range");
	assert_int_equal(load(BASE "jute.maxbuffer=0x80000000\n"), -1);
	assert_err_at(3, "jute.maxbuffer: out of range");
}

static void test_force_sync_yes_and_no(void **state)
{
	load_ok(BASE "forceSync=no\n");
	assert_false(cfg.force_sync);
	load_ok(BASE "forceSync=YES\n");
	assert_true(cfg.force_sync);
	assert_int_equal(load(BASE "forceSync=false\n"), -1);
	assert_err_at(3, "forceSync: invalid option 'false'");
}

static void test_super_digest_both_key_forms(void **state)
{
	load_ok(BASE "zookeeper.DigestAuthenticationProvider.superDigest="
		"super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n");
	assert_string_equal(cfg.super_digest,
			    "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
	assert_int_equal(n_warns, 0);
	load_ok(BASE "DigestAuthenticationProvider.superDigest=su:xyz\n");
	assert_string_equal(cfg.super_digest, "su:xyz");
}

static void test_super_digest_without_colon_is_an_error(void **state)
{
	assert_int_equal(load(BASE "DigestAuthenticationProvider.superDigest"
			      "=nocolon\n"), -1);
	assert_err_at(3, "superDigest: expected 'user:digest'");
	assert_int_equal(load(BASE "DigestAuthenticationProvider.superDigest"
			      "=:x\n"), -1);
}

static void test_snap_retain_count_minimum_is_three(void **state)
{
	load_ok(BASE "autopurge.snapRetainCount=1\n");
	assert_int_equal(cfg.snap_retain_count, 3);
	assert_int_equal(n_warns, 1);
	assert_warned(":3: autopurge.snapRetainCount: 1 is less than 3");
	load_ok(BASE "autopurge.snapRetainCount=4\n");
	assert_int_equal(cfg.snap_retain_count, 4);
	assert_int_equal(n_warns, 0);
}

static void test_purge_interval_zero_or_negative_disables(void **state)
{
	load_ok(BASE "autopurge.purgeInterval=0\n");
	assert_int_equal(cfg.purge_interval, 0);
	load_ok(BASE "autopurge.purgeInterval=-3\n");
	assert_int_equal(cfg.purge_interval, 0);
	load_ok(BASE "autopurge.purgeInterval=1\n");
	assert_int_equal(cfg.purge_interval, 1);
}

static void test_standalone_enabled_is_a_java_boolean(void **state)
{
	load_ok(BASE "standaloneEnabled=TRUE\n");
	assert_true(cfg.standalone_enabled);
	assert_int_equal(load(BASE "standaloneEnabled=yes\n"), -1);
	assert_err_at(3, "standaloneEnabled: invalid option 'yes'");
}

static void test_paddock_workers_range(void **state)
{
	load_ok(BASE "paddock.workers=1\n");
	assert_int_equal(cfg.workers, 1);
	assert_int_equal(load(BASE "paddock.workers=0\n"), -1);
	assert_err_at(3, "paddock.workers: out of range");
	assert_int_equal(load(BASE "paddock.workers=100000\n"), -1);
	assert_err_at(3, "paddock.workers: out of range");
}

static void test_flow_control_keys_defaults_and_ranges(void **state)
{
	load_ok(BASE);
	assert_int_equal(cfg.global_outstanding_limit, 1000);
	assert_int_equal(cfg.conn_outstanding_limit, 0);
	assert_int_equal(cfg.max_cnxns, 0);
	assert_int_equal(cfg.request_throttle_max, 0);
	assert_int_equal(cfg.request_throttle_stall_ms, 100);
	assert_int_equal(cfg.conn_throttle_tokens, 0);
	assert_int_equal(cfg.conn_throttle_fill_ms, 1);
	assert_int_equal(cfg.conn_throttle_fill_count, 1);
	load_ok(BASE "globalOutstandingLimit=5\n"
		     "paddock.maxOutstandingPerConnection=3\n"
		     "maxCnxns=7\n"
		     "request_throttle_max_requests=9\n"
		     "request_throttle_stall_time=50\n"
		     "connection_throttle_tokens=20\n"
		     "connection_throttle_fill_time=10\n"
		     "connection_throttle_fill_count=2\n");
	assert_int_equal(n_warns, 0);
	assert_int_equal(cfg.global_outstanding_limit, 5);
	assert_int_equal(cfg.conn_outstanding_limit, 3);
	assert_int_equal(cfg.max_cnxns, 7);
	assert_int_equal(cfg.request_throttle_max, 9);
	assert_int_equal(cfg.request_throttle_stall_ms, 50);
	assert_int_equal(cfg.conn_throttle_tokens, 20);
	assert_int_equal(cfg.conn_throttle_fill_ms, 10);
	assert_int_equal(cfg.conn_throttle_fill_count, 2);
	assert_int_equal(load(BASE "globalOutstandingLimit=0\n"), -1);
	assert_err_at(3, "globalOutstandingLimit: out of range");
	assert_int_equal(load(BASE "maxCnxns=-1\n"), -1);
	assert_err_at(3, "maxCnxns: out of range");
	assert_int_equal(load(BASE "connection_throttle_fill_time=0\n"), -1);
	assert_err_at(3, "connection_throttle_fill_time: out of range");
	/* ZooKeeper would read this as "zookeeper.zookeeper.<key>": unused */
	load_ok(BASE "zookeeper.request_throttle_max_requests=4\n");
	assert_int_equal(cfg.request_throttle_max, 0);
	assert_int_equal(n_warns, 1);
}

static void test_enforce_quota_is_a_boolean_off_by_default(void **state)
{
	load_ok(BASE);
	assert_false(cfg.enforce_quota);
	load_ok(BASE "enforceQuota=true\n");
	assert_true(cfg.enforce_quota);
	assert_int_equal(n_warns, 0);
	assert_int_equal(load(BASE "enforceQuota=maybe\n"), -1);
	assert_err_at(3, "enforceQuota");
}

static void test_peer_type_values(void **state)
{
	load_ok(BASE "peerType=Participant\n");
	assert_false(cfg.peer_type_observer);
	load_ok(BASE "peerType=OBSERVER\n");
	assert_true(cfg.peer_type_observer);
	assert_int_equal(load(BASE "peerType=leader\n"), -1);
	assert_err_at(3, "peerType: unrecognised peer type 'leader'");
}

/* ---- accepted-but-unused and unknown keys -------------------------------- */

static void test_accepted_keys_warn_exactly_once_each(void **state)
{
	static const char *keys[] = {
		"admin.idleTimeout=30000", "admin.portUnification=false",
		"snapSizeLimitInKb=4194304", "leaderServes=yes",
		"electionAlg=3", "quorumListenOnAllIPs=true",
		"syncEnabled=true", "dynamicConfigFile=/tmp/zoo.cfg.dynamic",
		"txnLogSizeLimitInKb=-1",
		"metricsProvider.exportJvmInfo=false", "skipACL=no",
		"ssl.hostnameVerification=false",
		"ssl.quorum.keyStore.location=/k", "ssl.crl=false",
	};
	char text[4096], what[256];
	size_t n = sizeof(keys) / sizeof(keys[0]);

	strcpy(text, BASE);
	for (size_t i = 0; i < n; i++) {
		strcat(text, keys[i]);
		strcat(text, "\n");
	}
	load_ok(text);
	assert_int_equal(n_warns, (int)n);
	for (size_t i = 0; i < n; i++) {
		char key[64];

		snprintf(key, sizeof(key), "%.*s",
			 (int)(strchr(keys[i], '=') - keys[i]), keys[i]);
		snprintf(what, sizeof(what), "%s:%zu: %s: accepted, not used "
			 "by paddockd", tmp_path, i + 3, key);
		assert_string_equal(warns[i], what);
	}
}

static void test_admin_and_metrics_keys(void **state)
{
	load_ok(BASE);
	assert_true(cfg.admin_enabled);
	assert_string_equal(cfg.admin_address, "0.0.0.0");
	assert_int_equal(cfg.admin_port, 8080);
	assert_string_equal(cfg.admin_url, "/commands");
	assert_false(cfg.prometheus);
	assert_int_equal(cfg.metrics_port, 7000);
	load_ok(BASE "admin.enableServer=false\nadmin.serverPort=18080\n"
		     "admin.serverAddress=127.0.0.2\nadmin.commandURL=/c\n"
		     "metricsProvider.className=org.apache.zookeeper.metrics."
		     "prometheus.PrometheusMetricsProvider\n"
		     "metricsProvider.httpHost=127.0.0.3\n"
		     "metricsProvider.httpPort=17000\n");
	assert_int_equal(n_warns, 0);
	assert_false(cfg.admin_enabled);
	assert_int_equal(cfg.admin_port, 18080);
	assert_string_equal(cfg.admin_address, "127.0.0.2");
	assert_string_equal(cfg.admin_url, "/c");
	assert_true(cfg.prometheus);
	assert_string_equal(cfg.metrics_host, "127.0.0.3");
	assert_int_equal(cfg.metrics_port, 17000);
	assert_int_equal(load(BASE "metricsProvider.className=org.Foo\n"), -1);
	assert_err_at(3, "metricsProvider.className: unknown metrics provider "
			 "'org.Foo'");
	assert_int_equal(load(BASE "admin.serverPort=0\n"), -1);
	assert_int_equal(load(BASE "admin.commandURL=commands\n"), -1);
	assert_err_at(3, "admin.commandURL: must start with '/'");
}

static void test_tls_keys(void **state)
{
	load_ok(BASE);
	assert_int_equal(cfg.secure_client_port, 0);
	assert_int_equal(cfg.ssl_client_auth, ZCFG_AUTH_NEED);
	assert_false(cfg.x509_auth);
	load_ok(BASE "secureClientPort=2281\n"
		     "zookeeper.ssl.keyStore.location=/k.pem\n"
		     "ssl.keyStore.password=pw\nssl.keyStore.type=PEM\n"
		     "ssl.trustStore.location=/ca.pem\nssl.clientAuth=want\n"
		     "ssl.protocol=TLSv1.3\n"
		     "authProvider.x509=org.apache.zookeeper.server.auth."
		     "X509AuthenticationProvider\n");
	assert_int_equal(n_warns, 0);
	assert_int_equal(cfg.secure_client_port, 2281);
	assert_string_equal(cfg.secure_client_addr, "0.0.0.0");
	assert_string_equal(cfg.ssl_key_store, "/k.pem");
	assert_string_equal(cfg.ssl_key_store_password, "pw");
	assert_string_equal(cfg.ssl_trust_store, "/ca.pem");
	assert_int_equal(cfg.ssl_client_auth, ZCFG_AUTH_WANT);
	assert_string_equal(cfg.ssl_protocols, "TLSv1.3");
	assert_true(cfg.x509_auth);
	load_ok(BASE "authProvider.1=org.apache.zookeeper.server.auth."
		     "SASLAuthenticationProvider\n"
		     "java.security.auth.login.config=/etc/jaas.conf\n"
		     "authProvider.2=com.example.Kerberos\n");
	assert_int_equal(n_warns, 1);
	assert_false(cfg.x509_auth);
	assert_true(cfg.sasl_auth);
	assert_string_equal(cfg.jaas_config, "/etc/jaas.conf");
	assert_int_equal(load(BASE "secureClientPort=2281\n"), -1);
	assert_non_null(strstr(err, "secureClientPort is set but "
				    "ssl.keyStore.location is not"));
	assert_int_equal(load(BASE "secureClientPort=2281\n"
				  "ssl.keyStore.location=/k.pem\n"
				  "paddock.dataplane=dpdk\n"
				  "paddock.dpdk.ip=10.0.0.1\n"), -1);
	assert_non_null(strstr(err, "secureClientPort needs the kernel"));
	assert_int_equal(load(BASE "ssl.keyStore.type=JKS\n"), -1);
	assert_err_at(3, "ssl.keyStore.type: JKS stores are Java's own format");
	assert_int_equal(load(BASE "ssl.clientAuth=maybe\n"), -1);
	assert_int_equal(load(BASE "ssl.enabledProtocols=TLSv1.1\n"), -1);
	assert_err_at(3, "ssl.enabledProtocols: 'TLSv1.1' is not TLSv1.2");
}

static void test_unknown_key_is_a_warning_not_an_error(void **state)
{
	char want[128];

	load_ok(BASE "\n\n\n\nnoSuchKey=42\n");
	assert_int_equal(n_warns, 1);
	snprintf(want, sizeof(want), "%s:7: noSuchKey: unknown key, not used "
		 "by paddockd", tmp_path);
	assert_string_equal(warns[0], want);
}

static void test_election_alg_other_than_3_is_an_error(void **state)
{
	assert_int_equal(load(BASE "electionAlg=0\n"), -1);
	assert_err_at(3, "electionAlg: invalid value '0', only 3");
}

static void test_dynamic_config_file_with_server_lines_is_an_error(
	void **state)
{
	assert_int_equal(load(BASE "server.1=h:1:2\nserver.2=h:3:4\n"
			      "server.3=h:5:6\ndynamicConfigFile=/d\n"), -1);
	assert_err_at(3, "must be in the separate dynamic config file");
}

/* ---- server.N ------------------------------------------------------------ */

#define ENSEMBLE                                   \
	"server.1=127.0.0.1:2888:3888\n"           \
	"server.2=127.0.0.1:2889:3889;2182\n"      \
	"server.3=127.0.0.1:2890:3890:participant;" \
	"127.0.0.1:2183\n"

static void test_three_server_ensemble(void **state)
{
	load_ok(BASE ENSEMBLE);
	assert_int_equal(cfg.n_servers, 3);
	assert_int_equal(n_warns, 0);
	assert_int_equal(cfg.servers[0].id, 1);
	assert_string_equal(cfg.servers[0].host, "127.0.0.1");
	assert_int_equal(cfg.servers[0].quorum_port, 2888);
	assert_int_equal(cfg.servers[0].election_port, 3888);
	assert_false(cfg.servers[0].observer);
	assert_string_equal(cfg.servers[0].client_addr, "");
	assert_int_equal(cfg.servers[0].client_port, 0);
	assert_string_equal(cfg.servers[1].client_addr, "");
	assert_int_equal(cfg.servers[1].client_port, 2182);
	assert_string_equal(cfg.servers[2].client_addr, "127.0.0.1");
	assert_int_equal(cfg.servers[2].client_port, 2183);
	assert_false(cfg.servers[2].observer);
}

static void test_observer_server_line(void **state)
{
	load_ok(BASE ENSEMBLE "server.4=127.0.0.1:2891:3891:observer\n"
		"peerType=observer\n");
	assert_int_equal(cfg.n_servers, 4);
	assert_true(cfg.servers[3].observer);
	assert_true(cfg.peer_type_observer);
	/* an observer is not a voter: 3 voters, no even-count warning */
	assert_int_equal(n_warns, 0);
}

static void test_server_ids_need_not_be_contiguous(void **state)
{
	load_ok(BASE "server.10=a:1:2\nserver.200=b:1:2\nserver.3=c:1:2\n");
	assert_int_equal(cfg.servers[0].id, 10);
	assert_int_equal(cfg.servers[1].id, 200);
	assert_int_equal(cfg.servers[2].id, 3);
	assert_string_equal(cfg.servers[1].host, "b");
}

static void test_ipv6_server_lines(void **state)
{
	load_ok(BASE "server.1=[::1]:2888:3888;[::1]:2181\n"
		"server.2=[fe80::1%eth0]:2889:3889:observer\n"
		"server.3=[2001:db8::2]:2890:3890\n"
		"server.4=[2001:db8::3]:2890:3890\n");
	assert_string_equal(cfg.servers[0].host, "::1");
	assert_int_equal(cfg.servers[0].quorum_port, 2888);
	assert_int_equal(cfg.servers[0].election_port, 3888);
	assert_string_equal(cfg.servers[0].client_addr, "::1");
	assert_int_equal(cfg.servers[0].client_port, 2181);
	assert_string_equal(cfg.servers[1].host, "fe80::1%eth0");
	assert_true(cfg.servers[1].observer);
}

static void test_ipv6_without_closing_bracket_is_an_error(void **state)
{
	assert_int_equal(load(BASE "server.1=[::1:2888:3888\n"), -1);
	assert_err_at(3, "no matching ']:'");
}

static void test_unbracketed_ipv6_is_an_error(void **state)
{
	assert_int_equal(load(BASE "server.1=::1:2888:3888\n"), -1);
	assert_err_at(3, "server.1: '::1:2888:3888' does not have the form");
}

static void test_server_line_syntax_errors(void **state)
{
	static const char *bad[] = {
		"server.1=host\n",
		"server.1=host:2888\n",
		"server.1=host:2888:3888:observer:x\n",
		"server.1=host:2888:3888;2181;2182\n",
		"server.1=host:2888:3888;a:b:2181\n",
		"server.1=\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];

		snprintf(text, sizeof(text), BASE "%s", bad[i]);
		assert_int_equal(load(text), -1);
		assert_err_at(3, "server.1:");
	}
}

static void test_server_bad_ports_are_errors(void **state)
{
	assert_int_equal(load(BASE "server.1=h:x:3888\n"), -1);
	assert_err_at(3, "server.1: not a port number: 'x'");
	assert_int_equal(load(BASE "server.1=h:2888:70000\n"), -1);
	assert_err_at(3, "server.1: not a port number: '70000'");
	assert_int_equal(load(BASE "server.1=h:2888:3888;0\n"), -1);
	assert_err_at(3, "server.1: not a port number: '0'");
	assert_int_equal(load(BASE "server.1=h:2888:2888\n"), -1);
	assert_err_at(3, "quorum and election port must be different");
	assert_int_equal(load(BASE "server.1=h:2888:3888;2888\n"), -1);
	assert_err_at(3, "also a quorum or election port");
}

static void test_server_bad_role_is_an_error(void **state)
{
	assert_int_equal(load(BASE "server.1=h:2888:3888:leader\n"), -1);
	assert_err_at(3, "unrecognised peer type 'leader'");
}

static void test_server_bad_id_is_an_error(void **state)
{
	assert_int_equal(load(BASE "server.x=h:2888:3888\n"), -1);
	assert_err_at(3, "server.x: bad server id");
	assert_int_equal(load(BASE "server.=h:2888:3888\n"), -1);
	assert_err_at(3, "bad server id");
	assert_int_equal(load(BASE "server.-1=h:2888:3888\n"), -1);
	assert_err_at(3, "bad server id");
}

static void test_duplicate_server_ids_are_an_error(void **state)
{
	assert_int_equal(load(BASE "server.1=a:1:2\nserver.2=b:1:2\n"
			      "server.01=c:1:2\n"), -1);
	assert_err_at(5, "server.01: duplicate server id 1 (first given on "
		      "line 3)");
	assert_int_equal(load(BASE "server.1=a:1:2\nserver.1=b:1:2\n"), -1);
	assert_err_at(4, "duplicate server id 1");
}

static void test_duplicate_server_address_is_an_error(void **state)
{
	assert_int_equal(load(BASE "server.1=h:2888:3888\n"
			      "server.2=h:3888:3999\n"), -1);
	assert_err_at(4, "address h:3888 is already used by server.1");
}

static void test_whitespace_inside_server_line_is_tolerated(void **state)
{
	load_ok(BASE "server.1 = a : 2888 : 3888 : observer ; 2181\n"
		"server.2=b:1:2\nserver.3=c:1:2\nserver.4=d:1:2\n");
	assert_string_equal(cfg.servers[0].host, "a");
	assert_true(cfg.servers[0].observer);
	assert_int_equal(cfg.servers[0].client_port, 2181);
}

static void test_multi_address_server_line_is_rejected(void **state)
{
	assert_int_equal(load(BASE "server.1=a:1:2|b:1:2\n"), -1);
	assert_err_at(3, "multiple addresses");
}

static void test_too_many_servers_is_an_error(void **state)
{
	char text[8192];
	size_t off = 0;

	off += snprintf(text + off, sizeof(text) - off, BASE);
	for (int i = 1; i <= ZCFG_MAX_SERVERS + 1; i++)
		off += snprintf(text + off, sizeof(text) - off,
				"server.%d=h%d:1:2\n", i, i);
	assert_int_equal(load(text), -1);
	assert_err_at(ZCFG_MAX_SERVERS + 3, "too many servers");
}

static void test_client_port_may_come_from_server_lines(void **state)
{
	load_ok("dataDir=/x\n"
		"server.1=127.0.0.1:2888:3888;2181\n"
		"server.2=127.0.0.1:2889:3889;2182\n"
		"server.3=127.0.0.1:2890:3890;2183\n");
	assert_int_equal(cfg.client_port, 0);
	assert_string_equal(cfg.client_port_address, "0.0.0.0");
}

static void test_server_lines_without_any_client_port_is_an_error(
	void **state)
{
	assert_int_equal(load("dataDir=/x\nserver.1=a:1:2\nserver.2=b:1:2\n"
			      "server.3=c:1:2\n"), -1);
	assert_non_null(strstr(err, "clientPort is not set"));
}

static void test_single_server_line_runs_standalone_with_warning(
	void **state)
{
	load_ok(BASE "server.1=127.0.0.1:2888:3888\n");
	assert_int_equal(n_warns, 1);
	assert_warned("only one server specified");
}

static void test_two_servers_warn_no_failure_tolerated(void **state)
{
	load_ok(BASE "server.1=a:1:2\nserver.2=b:1:2\n");
	assert_warned("no server failure will be tolerated");
}

static void test_four_servers_warn_even_count(void **state)
{
	load_ok(BASE "server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\n"
		"server.4=d:1:2\n");
	assert_warned("consider an odd number");
}

static void test_observers_without_participants_are_an_error(void **state)
{
	assert_int_equal(load(BASE "server.1=a:1:2:observer\n"), -1);
	assert_non_null(strstr(err, "observers without participants"));
	assert_int_equal(load(BASE "server.1=a:1:2\nserver.2=b:1:2:observer\n"),
			 -1);
	assert_non_null(strstr(err, "observers without a quorum"));
}

static void test_standalone_disabled_needs_a_participant(void **state)
{
	assert_int_equal(load(BASE "standaloneEnabled=false\n"), -1);
	assert_non_null(strstr(err, "standaloneEnabled is false"));
}

static void test_ensemble_needs_init_and_sync_limit(void **state)
{
	assert_int_equal(load(BASE "initLimit=0\n" ENSEMBLE), -1);
	assert_err_at(3, "initLimit is not set");
	assert_int_equal(load(BASE "syncLimit=0\n" ENSEMBLE), -1);
	assert_err_at(3, "syncLimit is not set");
	/* standalone does not care, like ZooKeeper */
	load_ok(BASE "initLimit=0\nsyncLimit=0\n");
}

/* ---- example configs ----------------------------------------------------- */

/*
 * The source tree, found from __FILE__: meson compiles with paths relative
 * to the build root, which is the parent of this executable's directory
 * (a by-hand build from the source root works too).
 */
static void source_root(char *out, size_t len)
{
	char exe[PATH_MAX], file[2 * PATH_MAX], *tail;
	ssize_t n;

	if (__FILE__[0] == '/' || access(__FILE__, R_OK) == 0) {
		snprintf(file, sizeof(file), "%s%s", __FILE__[0] == '/' ?
			 "" : "./", __FILE__);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		assert_true(n > 0);
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0'; /* build/tests */
		*strrchr(exe, '/') = '\0'; /* build */
		snprintf(file, sizeof(file), "%s/%s", exe, __FILE__);
	}
	tail = strstr(file, "/tests/unit/test_config.c");
	assert_non_null(tail);
	*tail = '\0';
	assert_true(strlen(file) < len);
	memcpy(out, file, strlen(file) + 1);
}

static void load_example(const char *name)
{
	char root[PATH_MAX], path[2 * PATH_MAX];

	source_root(root, sizeof(root));
	snprintf(path, sizeof(path), "%s/configs/%s", root, name);
	n_warns = 0;
	if (zcfg_load(&cfg, path, err, sizeof(err), collect_warn))
		fail_msg("%s: %s", name, err);
}

static void test_example_configs_load(void **state)
{
	load_example("standalone.cfg");
	assert_int_equal(n_warns, 0);
	assert_int_equal(cfg.n_servers, 0);
	load_example("ensemble-3.cfg");
	assert_int_equal(n_warns, 0);
	assert_int_equal(cfg.n_servers, 3);
	load_example("observer.cfg");
	assert_int_equal(n_warns, 0);
	assert_true(cfg.peer_type_observer);
	assert_int_equal(cfg.n_servers, 4);
	assert_true(cfg.servers[3].observer);
	load_example("dpdk-af_packet.cfg");
	assert_int_equal(n_warns, 0);
	assert_true(cfg.dpdk);
	assert_int_equal(cfg.dpdk_ip, 0x0a580002); /* 10.88.0.2 */
	assert_int_equal(cfg.dpdk_netmask, 0xffffff00u);
	assert_non_null(strstr(cfg.dpdk_eal, "iface=pd0"));
	load_example("dpdk-memif.cfg");
	assert_int_equal(n_warns, 0);
	assert_true(cfg.dpdk && cfg.dpdk_busy_poll);
	assert_non_null(strstr(cfg.dpdk_eal, "net_memif0,role=server"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_without_a_file),
		cmocka_unit_test(test_workers_default_is_cores_minus_one),
		cmocka_unit_test(test_minimal_file_listens_on_all_addresses),
		cmocka_unit_test(test_missing_file_is_an_error_with_strerror),
		cmocka_unit_test(test_directory_is_an_error),
		cmocka_unit_test(test_failed_load_leaves_config_unchanged),
		cmocka_unit_test(test_null_warn_callback_is_allowed),
		cmocka_unit_test(test_comments_and_blank_lines_are_skipped),
		cmocka_unit_test(test_separators_are_equivalent),
		cmocka_unit_test(test_only_the_first_separator_is_consumed),
		cmocka_unit_test(test_value_may_contain_separators),
		cmocka_unit_test(test_backslash_continues_a_line),
		cmocka_unit_test(test_continued_line_errors_name_its_first_line),
		cmocka_unit_test(test_even_backslashes_do_not_continue),
		cmocka_unit_test(test_comment_lines_are_not_continued),
		cmocka_unit_test(test_continuation_line_may_start_with_hash),
		cmocka_unit_test(test_crlf_and_cr_line_endings),
		cmocka_unit_test(test_crlf_line_numbers_count_once),
		cmocka_unit_test(test_escapes_are_decoded),
		cmocka_unit_test(test_escaped_separator_stays_in_the_key),
		cmocka_unit_test(test_malformed_unicode_escape_is_an_error),
		cmocka_unit_test(test_surrogate_pair_escape_becomes_utf8),
		cmocka_unit_test(test_values_are_trimmed),
		cmocka_unit_test(test_last_value_of_a_repeated_key_wins),
		cmocka_unit_test(
			test_overridden_bad_value_is_ignored_like_properties),
		cmocka_unit_test(test_key_order_does_not_matter_for_defaults),
		cmocka_unit_test(test_file_without_trailing_newline),
		cmocka_unit_test(test_trailing_backslash_at_eof_is_dropped),
		cmocka_unit_test(test_nul_byte_is_an_error),
		cmocka_unit_test(test_every_used_key_is_parsed),
		cmocka_unit_test(test_tick_time_must_be_positive),
		cmocka_unit_test(
			test_non_numeric_values_are_errors_naming_the_line),
		cmocka_unit_test(test_numbers_out_of_int_range_are_errors),
		cmocka_unit_test(test_numbers_accept_a_plus_sign_like_java),
		cmocka_unit_test(test_numbers_reject_embedded_spaces),
		cmocka_unit_test(test_client_port_must_be_a_port),
		cmocka_unit_test(test_client_port_missing_is_an_error),
		cmocka_unit_test(
			test_client_port_address_without_client_port_is_an_error),
		cmocka_unit_test(
			test_client_port_address_ipv6_brackets_are_removed),
		cmocka_unit_test(test_data_dir_is_required_in_a_file),
		cmocka_unit_test(test_empty_data_dir_is_an_error),
		cmocka_unit_test(test_data_log_dir_defaults_to_data_dir),
		cmocka_unit_test(test_too_long_path_is_an_error),
		cmocka_unit_test(test_session_timeouts_default_to_2x_and_20x_tick),
		cmocka_unit_test(test_only_one_session_timeout_given),
		cmocka_unit_test(test_session_timeout_minus_one_means_default),
		cmocka_unit_test(test_min_session_timeout_above_max_is_an_error),
		cmocka_unit_test(
			test_huge_tick_time_overflowing_defaults_is_an_error),
		cmocka_unit_test(test_4lw_whitelist_default_is_srvr_only),
		cmocka_unit_test(test_4lw_whitelist_list_with_spaces),
		cmocka_unit_test(test_4lw_whitelist_star_allows_everything),
		cmocka_unit_test(test_4lw_whitelist_empty_value_leaves_only_srvr),
		cmocka_unit_test(test_bare_known_key_without_value_is_an_error),
		cmocka_unit_test(test_bare_unknown_key_is_only_a_warning),
		cmocka_unit_test(
			test_snap_count_decodes_hex_and_octal_like_integer_decode),
		cmocka_unit_test(
			test_snap_count_below_two_is_reset_with_a_warning),
		cmocka_unit_test(test_prealloc_size_is_in_kib),
		cmocka_unit_test(test_jute_maxbuffer_accepts_hex),
		cmocka_unit_test(test_force_sync_yes_and_no),
		cmocka_unit_test(test_super_digest_both_key_forms),
		cmocka_unit_test(test_super_digest_without_colon_is_an_error),
		cmocka_unit_test(test_snap_retain_count_minimum_is_three),
		cmocka_unit_test(test_purge_interval_zero_or_negative_disables),
		cmocka_unit_test(test_standalone_enabled_is_a_java_boolean),
		cmocka_unit_test(test_paddock_workers_range),
		cmocka_unit_test(test_flow_control_keys_defaults_and_ranges),
		cmocka_unit_test(test_enforce_quota_is_a_boolean_off_by_default),
		cmocka_unit_test(test_peer_type_values),
		cmocka_unit_test(test_accepted_keys_warn_exactly_once_each),
		cmocka_unit_test(test_admin_and_metrics_keys),
		cmocka_unit_test(test_tls_keys),
		cmocka_unit_test(test_unknown_key_is_a_warning_not_an_error),
		cmocka_unit_test(test_election_alg_other_than_3_is_an_error),
		cmocka_unit_test(
			test_dynamic_config_file_with_server_lines_is_an_error),
		cmocka_unit_test(test_three_server_ensemble),
		cmocka_unit_test(test_observer_server_line),
		cmocka_unit_test(test_server_ids_need_not_be_contiguous),
		cmocka_unit_test(test_ipv6_server_lines),
		cmocka_unit_test(test_ipv6_without_closing_bracket_is_an_error),
		cmocka_unit_test(test_unbracketed_ipv6_is_an_error),
		cmocka_unit_test(test_server_line_syntax_errors),
		cmocka_unit_test(test_server_bad_ports_are_errors),
		cmocka_unit_test(test_server_bad_role_is_an_error),
		cmocka_unit_test(test_server_bad_id_is_an_error),
		cmocka_unit_test(test_duplicate_server_ids_are_an_error),
		cmocka_unit_test(test_duplicate_server_address_is_an_error),
		cmocka_unit_test(test_whitespace_inside_server_line_is_tolerated),
		cmocka_unit_test(test_multi_address_server_line_is_rejected),
		cmocka_unit_test(test_too_many_servers_is_an_error),
		cmocka_unit_test(test_client_port_may_come_from_server_lines),
		cmocka_unit_test(
			test_server_lines_without_any_client_port_is_an_error),
		cmocka_unit_test(
			test_single_server_line_runs_standalone_with_warning),
		cmocka_unit_test(test_two_servers_warn_no_failure_tolerated),
		cmocka_unit_test(test_four_servers_warn_even_count),
		cmocka_unit_test(test_observers_without_participants_are_an_error),
		cmocka_unit_test(test_standalone_disabled_needs_a_participant),
		cmocka_unit_test(test_ensemble_needs_init_and_sync_limit),
		cmocka_unit_test(test_example_configs_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
