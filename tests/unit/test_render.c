/*
 * Golden-file tests of the CLI's output: each report's text form
 * (cli/render), its JSON form (io/kvdoc) and the metrics (io/metrics), made
 * from fixed control answers, must equal tests/unit/golden/NAME byte for
 * byte. After an intended change, HORLOGE_GOLDEN_UPDATE=1 rewrites the files;
 * review the diff before committing it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/render.h"
#include "io/kvdoc.h"
#include "io/metrics.h"

static const char status_answer[] =
    "ok\nleap=0\nstratum=2\nprecision=-24\nroot_delay=0.000312\nroot_dispersion=0.000845\n"
    "reference_id=0xC0000201\nreference_id_text=192.0.2.1\nlast_sync=1795595684.370524348\n"
    "last_sync_age=33\nsource_kind=ntp\nsource=192.0.2.1\nsource_name=ntp1.example.net\n"
    "reference_mode=synchronised\npoll=6\nclock_control=failed\nclock_errors=3\n"
    "last_clock_error=set frequency: Operation not permitted\nuptime=7200\nversion=0.9.0\n";

static const char tracking_answer[] =
    "ok\nreference_id=0xC0000201\nreference_id_text=192.0.2.1\nreference_mode=synchronised\nstratum=2\n"
    "reference_time=1795595684.370524348\nsystem_time_offset=-0.000001234\nlast_offset=0.000002345\n"
    "rms_offset=0.000012000\nestimated_error=0.000004000\nfrequency_ppm=-12.345\n"
    "residual_frequency_ppm=0.002\nskew_ppm=0.040\nroot_delay=0.000312000\nroot_dispersion=0.000845000\n"
    "update_interval=64.2\nslew_rate_ppm=0.512\nmax_slew_rate_ppm=3.250\nmaxslewrate_ppm=400\nleapsmear=off\nleap_status=insert second\nleap_source=leapseclist\ntai_offset=37\n"
    "leapseclist_expired=no\nclock_control=on\nclock_errors=0\n";

static const char serverstats_answer[] =
    "ok\nreceived=1000\nreplied=950\nreplied_symmetric=10\nreplied_interleaved=7\nkod_rate=5\nkod_deny=1\nrate_limited=30\n"
    "denied=2\ndropped_malformed=4\ndropped_bad_mode=3\ndropped_control_mode=6\ndropped_auth=0\n"
    "dropped_no_room=0\ndropped_truncated=1\ncrypto_nak=0\nmssntp_deferred=12\nmssntp_extended=1\nmssntp_signed=11\nmssntp_sign_failed=1\nmssntp_sign_timeouts=0\nmssntp_queue_full=0\nmssntp_signer_unavailable=0\nsend_errors=0\nkernel_rx_timestamps=1000\nkernel_tx_timestamps=7\nthreads=1\nsockets=2\n"
    "sockets_used=1\nclients_tracked=17\nclient_table_entries=1024\nuptime=7200\n";

static const char clients_answer[] =
    "ok\naddress=192.0.2.77\nrequests=120\nlimited=3\nkod_sent=1\nlast_seen_ago=5\ninterval=64.0\n--\n"
    "address=2001:db8::7\nrequests=2\nlimited=0\nkod_sent=0\nlast_seen_ago=900\ninterval=16.5\n--\n";

/* An NTP server with rejections, a falseticker, and a reference clock: sources and sourcestats. */
static const char sources_answer[] =
    "ok\nkind=ntp\nname=ntp1.example.net\naddress=192.0.2.1:123\nstate=selected\nstratum=1\npoll=6\n"
    "reach=377\nlast_rx_ago=12\nlast_offset=0.000002345\nlast_delay=0.000410000\noffset=0.000001900\n"
    "error=0.000003100\nsamples=40\nfiltered=8\nheld=0\nused=38\nfrequency_ppm=-0.004\n"
    "frequency_error_ppm=0.031\njitter=0.000001500\ndelay=0.000402000\nmin_delay=0.000398000\n"
    "root_distance=0.000600000\nrequests_sent=44\nmode=interleaved\ninterleaved_samples=30\n"
    "kernel_tx_timestamps=44\nhardware_tx_timestamps=0\nsoftware_tx_timestamps=0\nkernel_rx_timestamps=40\n"
    "hardware_rx_timestamps=0\nbogus-origin=2\nbad-delay=1\n--\n"
    "kind=ntp\nname=192.0.2.9\naddress=192.0.2.9:123\nstate=falseticker\nstratum=2\npoll=7\nreach=017\n"
    "last_rx_ago=70\nlast_offset=0.250000000\nlast_delay=0.020000000\noffset=0.249000000\n"
    "error=0.010000000\nsamples=4\nfiltered=4\nheld=0\nused=0\nfrequency_ppm=1.200\n"
    "frequency_error_ppm=9.000\njitter=0.001200000\ndelay=0.020100000\nmin_delay=0.019000000\n"
    "root_distance=0.030000000\nrequests_sent=6\nmode=basic\ninterleaved_samples=0\n--\n"
    "kind=refclock\nname=GPS (SOCK /run/gps.sock)\naddress=/run/gps.sock\nstate=candidate\nstratum=0\n"
    "poll=4\nreach=377\nlast_rx_ago=3\nlast_offset=-0.000000120\nlast_delay=0.000000001\n"
    "offset=-0.000000100\nerror=0.000000900\nsamples=100\nfiltered=8\nheld=0\nused=90\n"
    "frequency_ppm=0.001\nfrequency_error_ppm=0.002\njitter=0.000000200\ndelay=0.000000001\n"
    "min_delay=0.000000001\nroot_distance=0.000000500\nreadings=1600\nbad_readings=2\n"
    "pulse_readings=0\nlast_bad_reading=bad-magic\n--\n";

static const struct {
    const char *command, *answer;
} fixtures[] = {
    {"status", status_answer}, {"tracking", tracking_answer}, {"serverstats", serverstats_answer},
    {"clients", clients_answer}, {"sources", sources_answer}, {"sourcestats", sources_answer},
};

static struct kvdoc docs[sizeof fixtures / sizeof fixtures[0]];
static char texts[sizeof fixtures / sizeof fixtures[0]][4096];

static const struct kvdoc *parsed(size_t i)
{
    snprintf(texts[i], sizeof texts[i], "%s", fixtures[i].answer);
    assert_int_equal(kvdoc_parse(texts[i], &docs[i]), 0);
    return &docs[i];
}

static void golden_path(const char *name, char *path, size_t cap)
{
    const char *slash = strrchr(__FILE__, '/');
    int dir_len = slash ? (int)(slash - __FILE__) : 1;
    snprintf(path, cap, "%.*s/golden/%s", dir_len, slash ? __FILE__ : ".", name);
}

/* Compares what `produced` holds with the golden file (or rewrites it when asked). */
static void check_golden(const char *name, FILE *produced)
{
    char path[512], got[32768], want[32768];
    golden_path(name, path, sizeof path);
    rewind(produced);
    size_t n = fread(got, 1, sizeof got - 1, produced);
    got[n] = '\0';
    const char *update = getenv("HORLOGE_GOLDEN_UPDATE");
    if (update && strcmp(update, "1") == 0) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fwrite(got, 1, n, f);
        fclose(f);
        return;
    }
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("no golden file %s (HORLOGE_GOLDEN_UPDATE=1 writes it)", path);
    size_t m = fread(want, 1, sizeof want - 1, f);
    want[m] = '\0';
    fclose(f);
    if (strcmp(got, want) != 0)
        fail_msg("%s differs from its golden file %s; produced:\n%s", name, path, got);
}

/* Each report in both forms: NAME.txt (its renderer) and NAME.json (kvdoc). */
static void test_reports(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        const struct report_renderer *r = render_find(fixtures[i].command);
        assert_non_null(r);
        for (int json = 0; json <= 1; json++) {
            FILE *f = tmpfile();
            assert_non_null(f);
            if (json)
                kvdoc_print_json(parsed(i), r->list_name, f);
            else
                r->render_text(parsed(i), f);
            char name[64];
            snprintf(name, sizeof name, "%s.%s", fixtures[i].command, json ? "json" : "txt");
            check_golden(name, f);
            fclose(f);
        }
    }
}

/* sourcestats carries what only --json showed before: the delay and the rejections by test. */
static void test_sourcestats_has_delay_and_rejections(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    render_find("sourcestats")->render_text(parsed(5), f);
    char text[8192];
    rewind(f);
    text[fread(text, 1, sizeof text - 1, f)] = '\0';
    fclose(f);
    assert_non_null(strstr(text, "Delay"));
    assert_non_null(strstr(text, "402.0us"));
    assert_non_null(strstr(text, "bogus-origin 2, bad-delay 1"));
    assert_non_null(strstr(text, "bad readings 2"));
}

static void test_metrics(void **state)
{
    (void)state;
    const struct kvdoc *reports[METRICS_REPORTS] = {parsed(0), parsed(1), parsed(2), parsed(5)};
    for (int json = 0; json <= 1; json++) {
        FILE *f = tmpfile();
        assert_int_equal(metrics_write(f, reports, json), 0);
        check_golden(json ? "metrics.json" : "metrics.prom", f);
        fclose(f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reports),
        cmocka_unit_test(test_sourcestats_has_delay_and_rejections),
        cmocka_unit_test(test_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
