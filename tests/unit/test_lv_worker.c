/* lv_worker: jobs run one at a time off the loop thread and in order,
 * their done on the loop thread in the same order; busy_ms and queued
 * while a job blocks; lv_worker_free at exit: drains a quick queue (and
 * calls the dones), and gives up on a stuck job after LV_WORKER_EXIT_MS,
 * leaving the thread to free the worker when (if) the job returns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <unistd.h>

#include "lv_worker.h"
#include "fixture.h"
#include "util.h"

static sd_event *ev;
static pthread_t loop_thread;

struct job {
    int n;
    int *order_run, *order_done;   /* where this job writes its number */
    bool run_on_loop, done_off_loop;
    sem_t *gate;                   /* run waits for it, when set */
    bool returned;
};

static void job_run(void *arg)
{
    struct job *j = arg;

    j->run_on_loop = pthread_equal(pthread_self(), loop_thread);
    if (j->gate)
        sem_wait(j->gate);
    *j->order_run = j->n;
    j->returned = true;
}

static void job_done(void *arg)
{
    struct job *j = arg;

    j->done_off_loop = !pthread_equal(pthread_self(), loop_thread);
    *j->order_done = j->n;
}

static int setup(void **state)
{
    loop_thread = pthread_self();
    return sd_event_new(&ev);
}

static int teardown(void **state)
{
    ev = sd_event_unref(ev);
    return 0;
}

static void test_order_and_threads(void **state)
{
    struct lv_worker *w;
    int run[3] = {0}, done[3] = {0};
    struct job jobs[3];
    sem_t gate;

    assert_int_equal(sem_init(&gate, 0, 0), 0);
    assert_int_equal(lv_worker_new(ev, &w), 0);
    assert_int_equal(lv_worker_busy_ms(w, now_ms()), 0);
    for (int i = 0; i < 3; i++) {
        jobs[i] = (struct job){.n = i + 1, .order_run = &run[i], .order_done = &done[i]};
        if (i == 0)
            jobs[i].gate = &gate;
        assert_int_equal(lv_worker_submit(w, job_run, job_done, &jobs[i]), 0);
    }
    assert_int_equal(lv_worker_submit(w, NULL, NULL, NULL), -EINVAL);

    /* The first job blocks: the loop runs on, the rest wait. */
    fixture_run_loop(ev, 120);
    uint64_t busy = lv_worker_busy_ms(w, now_ms());
    assert_in_range(busy, 100, 1000);
    assert_int_equal(lv_worker_queued(w), 2);
    assert_int_equal(run[0] + done[0], 0);

    sem_post(&gate);
    fixture_run_loop(ev, 50);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(run[i], i + 1);
        assert_int_equal(done[i], i + 1);
        assert_false(jobs[i].run_on_loop);
        assert_false(jobs[i].done_off_loop);
    }
    assert_int_equal(lv_worker_busy_ms(w, now_ms()), 0);
    assert_int_equal(lv_worker_queued(w), 0);
    lv_worker_free(w);
    lv_worker_free(NULL);
    sem_destroy(&gate);
}

/* Jobs still queued at exit that finish in time get their done. */
static void test_free_drains(void **state)
{
    struct lv_worker *w;
    int run[2] = {0}, done[2] = {0};
    struct job jobs[2];

    assert_int_equal(lv_worker_new(ev, &w), 0);
    for (int i = 0; i < 2; i++) {
        jobs[i] = (struct job){.n = i + 1, .order_run = &run[i], .order_done = &done[i]};
        assert_int_equal(lv_worker_submit(w, job_run, job_done, &jobs[i]), 0);
    }
    lv_worker_free(w);
    assert_int_equal(done[0] + done[1], 3);
    assert_false(jobs[0].done_off_loop || jobs[1].done_off_loop);
}

static void test_free_stuck(void **state)
{
    struct lv_worker *w;
    int run[2] = {0}, done[2] = {0};
    struct job stuck = {.n = 1, .order_run = &run[0], .order_done = &done[0]};
    struct job never = {.n = 2, .order_run = &run[1], .order_done = &done[1]};
    sem_t gate;

    assert_int_equal(sem_init(&gate, 0, 0), 0);
    stuck.gate = &gate;
    assert_int_equal(lv_worker_new(ev, &w), 0);
    assert_int_equal(lv_worker_submit(w, job_run, job_done, &stuck), 0);
    assert_int_equal(lv_worker_submit(w, job_run, job_done, &never), 0);
    uint64_t t0 = now_ms();
    lv_worker_free(w);
    uint64_t took_ms = now_ms() - t0;
    print_message("lv_worker_free with a stuck job returned after %llu ms\n",
                  (unsigned long long)took_ms);
    assert_in_range(took_ms, LV_WORKER_EXIT_MS, LV_WORKER_EXIT_MS + 500);

    /* The stuck call returns later: the thread frees the worker itself
     * (AddressSanitizer watches), runs nothing more, calls no done. */
    sem_post(&gate);
    for (int i = 0; i < 100 && !stuck.returned; i++)
        usleep(10 * 1000);
    usleep(50 * 1000);
    fixture_run_loop(ev, 20);
    assert_true(stuck.returned);
    assert_int_equal(run[0], 1);
    assert_int_equal(done[0], 0);
    assert_int_equal(run[1] + done[1], 0);
    sem_destroy(&gate);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_and_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_drains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_stuck, setup, teardown),
    };
    return cmocka_run_group_tests_name("lv_worker", tests, NULL, NULL);
}
