/*
 * test_path.c — zk_path_validate against PathUtils.validatePath rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "tree/tree.h"

static int v(const char *p)
{
	return zk_path_validate(p, strlen(p), false);
}

static int vs(const char *p)
{
	return zk_path_validate(p, strlen(p), true);
}

static void test_root_is_valid(void **state)
{
	assert_int_equal(v("/"), ZOK);
}

static void test_ordinary_paths_are_valid(void **state)
{
	assert_int_equal(v("/a"), ZOK);
	assert_int_equal(v("/zookeeper/config"), ZOK);
	assert_int_equal(v("/a b/c-d_e"), ZOK);
	assert_int_equal(v("/a/b/c/d/e/f/g"), ZOK);
}

static void test_empty_path_is_rejected(void **state)
{
	assert_int_equal(zk_path_validate("", 0, false), ZBADARGUMENTS);
	assert_int_equal(zk_path_validate(NULL, 0, false), ZBADARGUMENTS);
}

static void test_path_must_start_with_slash(void **state)
{
	assert_int_equal(v("a"), ZBADARGUMENTS);
	assert_int_equal(v("a/b"), ZBADARGUMENTS);
	assert_int_equal(v(" /a"), ZBADARGUMENTS);
}

static void test_trailing_slash_is_rejected(void **state)
{
	assert_int_equal(v("/a/"), ZBADARGUMENTS);
	assert_int_equal(v("/a/b/"), ZBADARGUMENTS);
}

static void test_sequential_allows_trailing_slash(void **state)
{
	assert_int_equal(vs("/a/"), ZOK);
	assert_int_equal(vs("/"), ZOK); /* "/1" */
	assert_int_equal(vs("/a/x-"), ZOK);
	assert_int_equal(vs("/a//"), ZBADARGUMENTS);
	assert_int_equal(vs(""), ZBADARGUMENTS); /* "1" */
}

static void test_empty_component_is_rejected(void **state)
{
	assert_int_equal(v("//"), ZBADARGUMENTS);
	assert_int_equal(v("//a"), ZBADARGUMENTS);
	assert_int_equal(v("/a//b"), ZBADARGUMENTS);
}

static void test_dot_components_are_rejected(void **state)
{
	assert_int_equal(v("/."), ZBADARGUMENTS);
	assert_int_equal(v("/.."), ZBADARGUMENTS);
	assert_int_equal(v("/a/."), ZBADARGUMENTS);
	assert_int_equal(v("/a/.."), ZBADARGUMENTS);
	assert_int_equal(v("/a/./b"), ZBADARGUMENTS);
	assert_int_equal(v("/a/../b"), ZBADARGUMENTS);
	assert_int_equal(v("/./a"), ZBADARGUMENTS);
}

static void test_dots_inside_names_are_allowed(void **state)
{
	assert_int_equal(v("/..."), ZOK);
	assert_int_equal(v("/.a"), ZOK);
	assert_int_equal(v("/a."), ZOK);
	assert_int_equal(v("/a..b"), ZOK);
	assert_int_equal(v("/..a"), ZOK);
	assert_int_equal(v("/a/.b/c."), ZOK);
}

static void test_sequential_dot_component_becomes_name(void **state)
{
	assert_int_equal(vs("/a/."), ZOK);  /* "/a/.1" */
	assert_int_equal(vs("/a/.."), ZOK); /* "/a/..1" */
	assert_int_equal(vs("/./a"), ZBADARGUMENTS);
}

static void test_nul_byte_is_rejected(void **state)
{
	assert_int_equal(zk_path_validate("/a\0b", 4, false), ZBADARGUMENTS);
	assert_int_equal(zk_path_validate("/\0", 2, false), ZBADARGUMENTS);
}

static void test_control_characters_are_rejected(void **state)
{
	assert_int_equal(v("/a\x01"), ZBADARGUMENTS);
	assert_int_equal(v("/a\x1f"), ZBADARGUMENTS);
	assert_int_equal(v("/a\tb"), ZBADARGUMENTS);
	assert_int_equal(v("/a\x7f"), ZBADARGUMENTS);
	assert_int_equal(v("/a\x20"), ZOK);
	assert_int_equal(v("/a~"), ZOK);
}

static void test_c1_controls_are_rejected(void **state)
{
	assert_int_equal(v("/\xc2\x80"), ZBADARGUMENTS); /* U+0080 */
	assert_int_equal(v("/\xc2\x9f"), ZBADARGUMENTS); /* U+009F */
	assert_int_equal(v("/\xc2\xa0"), ZOK);		 /* U+00A0 */
	assert_int_equal(v("/caf\xc3\xa9"), ZOK);	 /* é */
}

static void test_surrogate_and_private_use_range_is_rejected(void **state)
{
	assert_int_equal(v("/\xed\x9f\xbf"), ZOK);	     /* U+D7FF */
	assert_int_equal(v("/\xee\x80\x80"), ZBADARGUMENTS); /* U+E000 */
	assert_int_equal(v("/\xef\xa3\xbf"), ZBADARGUMENTS); /* U+F8FF */
	assert_int_equal(v("/\xef\xa4\x80"), ZOK);	     /* U+F900 */
	assert_int_equal(v("/\xe4\xb8\xad"), ZOK);	     /* U+4E2D */
}

static void test_specials_range_is_rejected(void **state)
{
	assert_int_equal(v("/\xef\xbf\xaf"), ZOK);	     /* U+FFEF */
	assert_int_equal(v("/\xef\xbf\xb0"), ZBADARGUMENTS); /* U+FFF0 */
	assert_int_equal(v("/\xef\xbf\xbd"), ZBADARGUMENTS); /* U+FFFD */
	assert_int_equal(v("/\xef\xbf\xbf"), ZBADARGUMENTS); /* U+FFFF */
}

static void test_supplementary_characters_are_rejected(void **state)
{
	/* Java sees a surrogate pair, inside \ud800-\uf8ff */
	assert_int_equal(v("/\xf0\x9f\x98\x80"), ZBADARGUMENTS); /* U+1F600 */
	assert_int_equal(v("/\xf0\x90\x80\x80"), ZBADARGUMENTS); /* U+10000 */
}

static void test_malformed_utf8_is_rejected(void **state)
{
	assert_int_equal(v("/\xc3"), ZBADARGUMENTS);	     /* truncated */
	assert_int_equal(v("/\xc0\xaf"), ZBADARGUMENTS);     /* overlong */
	assert_int_equal(v("/\xed\xa0\x80"), ZBADARGUMENTS); /* surrogate */
	assert_int_equal(v("/\x80"), ZBADARGUMENTS);	     /* stray */
	assert_int_equal(v("/\xff"), ZBADARGUMENTS);
	assert_int_equal(v("\xc3\xa9"), ZBADARGUMENTS); /* no leading '/' */
}

static void test_length_not_nul_terminated(void **state)
{
	const char buf[] = "/a/b/";

	assert_int_equal(zk_path_validate(buf, 4, false), ZOK); /* "/a/b" */
	assert_int_equal(zk_path_validate(buf, 5, false), ZBADARGUMENTS);
	assert_int_equal(zk_path_validate(buf, 3, true), ZOK); /* "/a/" seq */
}

/* java.lang.String.hashCode values, as a JVM prints them */
static void test_java_hash_matches_java_string_hashcode(void **state)
{
	(void)state;
	assert_int_equal(zk_java_hash("", 0), 0);
	assert_int_equal(zk_java_hash("a", 1), 97);
	assert_int_equal(zk_java_hash("hello", 5), 99162322);
	assert_int_equal(zk_java_hash("digest", 6), -1331913276);
	assert_int_equal(zk_java_hash("\xc3\xa9", 2), 233);      /* U+00E9 */
	/* U+1F600: the surrogates 0xD83D 0xDE00 */
	assert_int_equal(zk_java_hash("\xf0\x9f\x98\x80", 4), 1772899);
	/* a malformed byte is U+FFFD */
	assert_int_equal(zk_java_hash("\xff", 1), 0xfffd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_java_hash_matches_java_string_hashcode),
	    cmocka_unit_test(test_root_is_valid),
	    cmocka_unit_test(test_ordinary_paths_are_valid),
	    cmocka_unit_test(test_empty_path_is_rejected),
	    cmocka_unit_test(test_path_must_start_with_slash),
	    cmocka_unit_test(test_trailing_slash_is_rejected),
	    cmocka_unit_test(test_sequential_allows_trailing_slash),
	    cmocka_unit_test(test_empty_component_is_rejected),
	    cmocka_unit_test(test_dot_components_are_rejected),
	    cmocka_unit_test(test_dots_inside_names_are_allowed),
	    cmocka_unit_test(test_sequential_dot_component_becomes_name),
	    cmocka_unit_test(test_nul_byte_is_rejected),
	    cmocka_unit_test(test_control_characters_are_rejected),
	    cmocka_unit_test(test_c1_controls_are_rejected),
	    cmocka_unit_test(test_surrogate_and_private_use_range_is_rejected),
	    cmocka_unit_test(test_specials_range_is_rejected),
	    cmocka_unit_test(test_supplementary_characters_are_rejected),
	    cmocka_unit_test(test_malformed_utf8_is_rejected),
	    cmocka_unit_test(test_length_not_nul_terminated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
