/* SPDX-License-Identifier: BSD-3-Clause
 * A tiny test harness shared by every uvtd test program.
 *
 *   static void test_something(void) { CHECK(x == 1, "x is %d", x); }
 *   int main(void) { RUN(test_something); return TEST_SUMMARY(); }
 *
 * A CHECK that fails prints where and why and marks the current test failed;
 * the program goes on with the next test. TEST_SUMMARY() prints
 * "N passed, N failed" (tests, not checks) and returns the exit status:
 * 0, 1 on any failure, or 77 (meson's skip) when every test skipped.
 */
#ifndef UVTD_TEST_H
#define UVTD_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct uvtd_test_state {
	const char *current;
	int current_failed;
	int current_skipped;
	unsigned passed, failed, skipped;
	unsigned long checks;
};

static struct uvtd_test_state uvtd_test_state;

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		uvtd_test_state.checks++;                                       \
		if (!(cond)) {                                                  \
			fprintf(stderr, "FAIL %s (%s:%d): %s: ",                \
				uvtd_test_state.current, __FILE__, __LINE__,   \
				#cond);                                         \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
			uvtd_test_state.current_failed = 1;                     \
		}                                                               \
	} while (0)

/* CHECK that also leaves the test function on failure. */
#define REQUIRE(cond, ...)                                                      \
	do {                                                                    \
		int uvtd_require_ok_ = !!(cond); /* evaluated once */           \
		CHECK(uvtd_require_ok_, __VA_ARGS__);                           \
		if (!uvtd_require_ok_)                                          \
			return;                                                 \
	} while (0)

/* For calls that return 0 on success (or a negative errno): evaluates expr
 * once, CHECKs it is 0 and leaves the test function otherwise. */
#define TRY(expr, ...)                                                          \
	do {                                                                    \
		long uvtd_try_rc_ = (long)(expr);                               \
		CHECK(uvtd_try_rc_ == 0, __VA_ARGS__);                          \
		if (uvtd_try_rc_ != 0)                                          \
			return;                                                 \
	} while (0)

/* Evaluates a and b once each. */
#define CHECK_EQ(a, b)                                                          \
	do {                                                                    \
		uint64_t uvtd_a_ = (uint64_t)(a), uvtd_b_ = (uint64_t)(b);      \
		CHECK(uvtd_a_ == uvtd_b_, "%s = 0x%" PRIx64                     \
		      ", expected %s = 0x%" PRIx64, #a, uvtd_a_, #b, uvtd_b_);  \
	} while (0)

/* Marks the current test skipped, with the reason, and leaves it. */
#define SKIP_TEST(...)                                                          \
	do {                                                                    \
		fprintf(stderr, "SKIP %s: ", uvtd_test_state.current);          \
		fprintf(stderr, __VA_ARGS__);                                   \
		fputc('\n', stderr);                                            \
		uvtd_test_state.current_skipped = 1;                            \
		return;                                                         \
	} while (0)

#define RUN(fn)                                                                 \
	do {                                                                    \
		uvtd_test_state.current = #fn;                                  \
		uvtd_test_state.current_failed = 0;                             \
		uvtd_test_state.current_skipped = 0;                            \
		fn();                                                           \
		if (uvtd_test_state.current_failed) {                           \
			uvtd_test_state.failed++;                               \
			printf("not ok - %s\n", #fn);                           \
		} else if (uvtd_test_state.current_skipped) {                   \
			uvtd_test_state.skipped++;                              \
			printf("skip - %s\n", #fn);                             \
		} else {                                                        \
			uvtd_test_state.passed++;                               \
			printf("ok - %s\n", #fn);                               \
		}                                                               \
		fflush(stdout);                                                 \
	} while (0)

static inline int uvtd_test_summary(void)
{
	printf("%u passed, %u failed, %u skipped (%lu checks)\n",
	       uvtd_test_state.passed, uvtd_test_state.failed,
	       uvtd_test_state.skipped, uvtd_test_state.checks);
	if (uvtd_test_state.failed)
		return 1;
	if (uvtd_test_state.passed == 0 && uvtd_test_state.skipped)
		return 77;
	return 0;
}
#define TEST_SUMMARY() uvtd_test_summary()

#endif /* UVTD_TEST_H */
