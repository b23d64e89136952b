/* tests/test_stats_format.c (label stats): the parts of `chi stats` that
 * need no runtime. Histogram quantiles of known distributions land within
 * one bucket; the formatters (tools/stats_format.c, compiled in here) write
 * exactly the golden bytes for a hand-made snapshot (table, JSON and
 * Prometheus text, which passes the strict parser of tests/prom_check.h),
 * no negative ids (null in JSON, '-' in the table), and say what they left
 * out. A cluster's peers in the formatters: tests/test_stats_cluster.c; the
 * counters behind a live runtime's snapshot: tests/test_stats.c. */
#include "test_util.h"

#include "chi/modules/admin.h"
#include "prom_check.h"
#include "runtime/stats.h"
/* the formatters are the chi command's: compiled into this test */
#include "../tools/stats_format.c"
#include "../tools/stats_prom.c"

/* ---- histogram ---- */
static void near_bucket(uint64_t got, uint64_t want)
{
	int d = (int)chi_lat_bucket(got) - (int)chi_lat_bucket(want);
	if (d < -1 || d > 1)
		fail_msg("quantile %llu, expected near %llu", (unsigned long long)got,
			 (unsigned long long)want);
}

static void test_histogram(void **state)
{
	(void)state;
	/* buckets tile the range: lo <= v < hi, width <= lo / 8 */
	for (uint64_t v = 0; v < 100000; v++) {
		uint32_t b = chi_lat_bucket(v);
		assert_true(chi_lat_bucket_lo(b) <= v && v < chi_lat_bucket_hi(b));
	}
	for (int e = 3; e < 64; e++) {
		uint64_t v = (1ull << e) + (1ull << e) / 3;
		uint32_t b = chi_lat_bucket(v);
		assert_true(b < CHI_LAT_BUCKETS);
		assert_true(chi_lat_bucket_lo(b) <= v);
		if (b + 1 < CHI_LAT_BUCKETS) {
			assert_true(v < chi_lat_bucket_hi(b));
			assert_true(chi_lat_bucket_hi(b) - chi_lat_bucket_lo(b) <= chi_lat_bucket_lo(b) / 8);
		}
	}
	assert_int_equal(chi_lat_bucket(UINT64_MAX), CHI_LAT_BUCKETS - 1);

	static uint64_t h[CHI_LAT_BUCKETS];
	uint64_t sum = 0;
	assert_int_equal(chi_lat_quantile(h, 0.5), 0);
	/* uniform 1..100000 ns */
	for (uint64_t v = 1; v <= 100000; v++)
		chi_lat_record(h, &sum, v);
	assert_int_equal(chi_lat_count(h), 100000);
	assert_int_equal(sum, 100000ull * 100001 / 2);
	near_bucket(chi_lat_quantile(h, 0.5), 50000);
	near_bucket(chi_lat_quantile(h, 0.99), 99000);
	near_bucket(chi_lat_quantile(h, 0.999), 99900);

	/* bimodal: 990 x 1 us, 9 x 1 ms, 1 x 1 s */
	memset(h, 0, sizeof(h));
	for (int i = 0; i < 990; i++)
		chi_lat_record(h, &sum, 1000);
	for (int i = 0; i < 9; i++)
		chi_lat_record(h, &sum, 1000000);
	chi_lat_record(h, &sum, 1000000000);
	assert_int_equal(chi_lat_bucket(chi_lat_quantile(h, 0.5)), chi_lat_bucket(1000));
	assert_int_equal(chi_lat_bucket(chi_lat_quantile(h, 0.99)), chi_lat_bucket(1000));
	assert_int_equal(chi_lat_bucket(chi_lat_quantile(h, 0.995)), chi_lat_bucket(1000000));
	assert_int_equal(chi_lat_bucket(chi_lat_quantile(h, 0.999)), chi_lat_bucket(1000000));
	assert_int_equal(chi_lat_bucket(chi_lat_quantile(h, 1.0)), chi_lat_bucket(1000000000));
}

#include "stats_golden.h"

static void test_format_golden(void **state)
{
	(void)state;
	chi_stats_snapshot s;
	golden_snapshot(&s, &st, &ps);
	assert_int_equal(chi_cli_stats_table(&s, buf, sizeof(buf)), strlen(golden_table));
	assert_string_equal(buf, golden_table);
	assert_int_equal(chi_cli_stats_json(&s, buf, sizeof(buf)), strlen(golden_json));
	assert_string_equal(buf, golden_json);
	assert_int_equal(chi_cli_stats_prometheus(&s, buf, sizeof(buf)), strlen(golden_prometheus));
	assert_string_equal(buf, golden_prometheus);
	int n;
	assert_null(prom_check(buf, &n));
}

/* ---- what the formatters left out, and lanes without samples ---- */
static void test_format_left_out(void **state)
{
	(void)state;
	chi_stats_snapshot s;
	golden_snapshot(&s, &st, &ps);
	st.lanes[1].lat_samples = 0; /* lane 1: no samples, no latency */
	st.lanes_total = 3;          /* lane 2, workers 2-4: not in the snapshot */
	st.workers_total = 5;
	chi_cli_stats_table(&s, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\n(lanes 2-2 not shown: chi stats keeps at most 65536, or the "
				    "runtime changed while they were read)\n"));
	assert_non_null(strstr(buf, "\n(workers 2-4 not shown: "));
	assert_non_null(strstr(buf, "lanes 3\n"));
	assert_non_null(strstr(buf, "          9         0           -           -           -\n"));
	chi_cli_stats_json(&s, buf, sizeof(buf));
	assert_non_null(strstr(buf, "],\"lanes_not_shown\":1,\"workers_not_shown\":3,\"workers\":["));
	assert_non_null(strstr(buf, "\"samples\":0,\"sum\":1500,\"p50\":null,\"p99\":null,\"p999\":null}"));
	assert_null(strstr(buf, ":-"));
	chi_cli_stats_prometheus(&s, buf, sizeof(buf));
	int n;
	const char *err = prom_check(buf, &n);
	if (err)
		fail_msg("prometheus: %s\n%s", err, buf);
	assert_non_null(strstr(buf, "\nchi_stats_lanes_not_shown{runtime=\"r\\\"1\\\\\"} 1\n"));
	assert_non_null(strstr(buf, "\nchi_stats_workers_not_shown{runtime=\"r\\\"1\\\\\"} 3\n"));
	assert_non_null(strstr(buf, "lane=\"1\",queue=\"gpu0\",quantile=\"0.5\"} NaN\n"));
	assert_non_null(strstr(buf, "lane=\"0\",queue=\"cpu\",quantile=\"0.5\"} 9.999e-06\n"));
	/* the golden snapshot itself leaves nothing out: no such lines */
	golden_snapshot(&s, &st, &ps);
	chi_cli_stats_prometheus(&s, buf, sizeof(buf));
	assert_null(strstr(buf, "not_shown"));
	assert_null(strstr(buf, "NaN"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_format_golden),
		cmocka_unit_test(test_format_left_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
