/* lv_worker.c: one thread for libvirt's blocking calls (see lv_worker.h). */
#include "lv_worker.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include "util.h"

struct lv_job {
    struct lv_job *next;
    void (*run)(void *arg);
    void (*done)(void *arg);
    void *arg;
};

/* A FIFO of jobs. */
struct lv_jobs {
    struct lv_job *head;
    struct lv_job **tail;
};

struct lv_worker {
    pthread_mutex_t lock;      /* everything below but thread and done_src */
    pthread_cond_t work;       /* a job queued, or stopping */
    pthread_cond_t idle;       /* a job finished (lv_worker_free waits on it) */
    pthread_t thread;
    struct lv_jobs queue;      /* not started */
    struct lv_jobs finished;   /* run, done not called yet */
    size_t queued;
    bool busy;
    uint64_t started_ms;       /* of the running job */
    bool stopping;             /* lv_worker_free began: no new jobs */
    bool orphaned;             /* lv_worker_free gave up: the thread frees w */
    int done_fd;               /* eventfd: finished jobs for the loop */
    sd_event_source *done_src; /* loop thread only */
};

static void jobs_init(struct lv_jobs *q)
{
    q->head = NULL;
    q->tail = &q->head;
}

static void jobs_push(struct lv_jobs *q, struct lv_job *j)
{
    j->next = NULL;
    *q->tail = j;
    q->tail = &j->next;
}

static struct lv_job *jobs_pop(struct lv_jobs *q)
{
    struct lv_job *j = q->head;

    if (j) {
        q->head = j->next;
        if (!q->head)
            q->tail = &q->head;
    }
    return j;
}

/* Takes the whole list, leaving q empty. */
static struct lv_job *jobs_take(struct lv_jobs *q)
{
    struct lv_job *head = q->head;

    jobs_init(q);
    return head;
}

/* Calls done for each job of the list, in order, and frees them. */
static void jobs_done(struct lv_job *j)
{
    while (j) {
        struct lv_job *next = j->next;
        if (j->done)
            j->done(j->arg);
        free(j);
        j = next;
    }
}

static void jobs_drop(struct lv_job *j)
{
    while (j) {
        struct lv_job *next = j->next;
        free(j);
        j = next;
    }
}

/* Only what the thread itself may free: the loop's side is gone. */
static void worker_destroy(struct lv_worker *w)
{
    jobs_drop(jobs_take(&w->queue));
    jobs_drop(jobs_take(&w->finished));
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->idle);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* The next job to run, or NULL when stopping with nothing queued. Lock
 * held. */
static struct lv_job *worker_next(struct lv_worker *w)
{
    while (!w->queue.head && !w->stopping)
        pthread_cond_wait(&w->work, &w->lock);
    struct lv_job *j = jobs_pop(&w->queue);
    if (j) {
        w->queued--;
        w->busy = true;
        w->started_ms = now_ms();
    }
    return j;
}

static void *worker_main(void *arg)
{
    struct lv_worker *w = arg;
    struct lv_job *j;
    uint64_t one = 1;

    pthread_mutex_lock(&w->lock);
    while ((j = worker_next(w))) {
        pthread_mutex_unlock(&w->lock);
        j->run(j->arg);
        pthread_mutex_lock(&w->lock);
        w->busy = false;
        if (w->orphaned) {
            free(j);
            break;
        }
        jobs_push(&w->finished, j);
        if (write(w->done_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            log_err("libvirt worker: cannot wake the loop: %s", strerror(errno));
        pthread_cond_broadcast(&w->idle);
    }
    bool orphaned = w->orphaned;
    pthread_mutex_unlock(&w->lock);
    if (orphaned)
        worker_destroy(w);
    return NULL;
}

static int on_done(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
    struct lv_worker *w = userdata;
    uint64_t n;

    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        log_err("libvirt worker: wake-up read: %s", strerror(errno));
    pthread_mutex_lock(&w->lock);
    struct lv_job *finished = jobs_take(&w->finished);
    pthread_mutex_unlock(&w->lock);
    jobs_done(finished);
    return 0;
}

static int worker_sync_init(struct lv_worker *w)
{
    pthread_condattr_t attr;
    int r;

    r = pthread_condattr_init(&attr);
    if (r)
        return -r;
    r = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (!r)
        r = pthread_cond_init(&w->idle, &attr);
    pthread_condattr_destroy(&attr);
    if (r)
        return -r;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->work, NULL);
    return 0;
}

/* The thread with every signal blocked, whatever the caller has. */
static int worker_start(struct lv_worker *w)
{
    sigset_t all, old;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int r = pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r)
        return -r;
    (void)pthread_setname_np(w->thread, "lv-worker");
    return 0;
}

int lv_worker_new(sd_event *ev, struct lv_worker **out)
{
    struct lv_worker *w = calloc(1, sizeof(*w));
    int r;

    if (!w)
        return -ENOMEM;
    jobs_init(&w->queue);
    jobs_init(&w->finished);
    r = worker_sync_init(w);
    if (r < 0)
        goto free_w;
    w->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->done_fd < 0) {
        r = -errno;
        goto destroy_sync;
    }
    r = sd_event_add_io(ev, &w->done_src, w->done_fd, EPOLLIN, on_done, w);
    if (r < 0)
        goto close_fd;
    (void)sd_event_source_set_description(w->done_src, "libvirt-worker");
    r = worker_start(w);
    if (r < 0)
        goto unref_src;
    *out = w;
    return 0;

unref_src:
    sd_event_source_unref(w->done_src);
close_fd:
    close(w->done_fd);
destroy_sync:
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->idle);
    pthread_mutex_destroy(&w->lock);
free_w:
    free(w);
    return r;
}

int lv_worker_submit(struct lv_worker *w, void (*run)(void *arg), void (*done)(void *arg),
                     void *arg)
{
    if (!run)
        return -EINVAL;
    struct lv_job *j = malloc(sizeof(*j));
    if (!j)
        return -ENOMEM;
    *j = (struct lv_job){.run = run, .done = done, .arg = arg};
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        pthread_mutex_unlock(&w->lock);
        free(j);
        return -ESHUTDOWN;
    }
    jobs_push(&w->queue, j);
    w->queued++;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

uint64_t lv_worker_busy_ms(struct lv_worker *w, uint64_t now_ms)
{
    pthread_mutex_lock(&w->lock);
    uint64_t ms = w->busy && now_ms > w->started_ms ? now_ms - w->started_ms : 0;
    pthread_mutex_unlock(&w->lock);
    return ms;
}

size_t lv_worker_queued(struct lv_worker *w)
{
    pthread_mutex_lock(&w->lock);
    size_t n = w->queued;
    pthread_mutex_unlock(&w->lock);
    return n;
}

/* Waits, lock held, until the queue is drained or LV_WORKER_EXIT_MS have
 * passed. Returns whether it drained. */
static bool worker_drain(struct lv_worker *w)
{
    struct timespec deadline;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += LV_WORKER_EXIT_MS / 1000;
    deadline.tv_nsec += (LV_WORKER_EXIT_MS % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    while (w->queue.head || w->busy)
        if (pthread_cond_timedwait(&w->idle, &w->lock, &deadline) == ETIMEDOUT)
            break;
    return !w->queue.head && !w->busy;
}

bool lv_worker_free(struct lv_worker *w)
{
    if (!w)
        return true;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->work);
    bool drained = worker_drain(w);
    struct lv_job *finished = jobs_take(&w->finished);
    pthread_t thread = w->thread;
    sd_event_source *src = w->done_src;
    int fd = w->done_fd;
    if (!drained) {
        log_warn("libvirt worker: a call still running after %d ms at exit; left behind",
                 LV_WORKER_EXIT_MS);
        jobs_drop(jobs_take(&w->queue));
        w->queued = 0;
        w->orphaned = true;
    }
    pthread_mutex_unlock(&w->lock);
    /* From here on an orphaned w belongs to its thread. */
    sd_event_source_disable_unref(src);
    close(fd);
    if (drained)
        pthread_join(thread, NULL);
    else
        pthread_detach(thread);
    jobs_done(finished);
    if (drained)
        worker_destroy(w);
    return drained;
}
