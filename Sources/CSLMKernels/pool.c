// A fixed set of worker threads for the model's matrix products. A token's forward pass is a
// few hundred short products; waking a thread through the kernel for each would cost a good
// part of the product, so workers spin on a job counter for a while and only then sleep.

#include "CSLMKernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define SLM_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define SLM_PAUSE() __asm__ volatile("yield")
#else
#define SLM_PAUSE() ((void)0)
#endif

/// Spins before a worker sleeps: about a millisecond, longer than the gaps between the
/// products of one token, much shorter than a pause between requests.
enum { SPINS = 1 << 14 };

struct slm_pool {
    int threads;
    pthread_t *workers;
    void (*job)(void *, int, int);
    void *context;
    atomic_uint generation;
    atomic_int pending;
    atomic_int sleepers;
    atomic_bool stopping;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    /// Held for a whole job: two sessions of one model may run at once, one after the other.
    pthread_mutex_t busy;
};

struct worker_start { slm_pool *pool; int part; };

static void *worker_main(void *argument) {
    struct worker_start start = *(struct worker_start *)argument;
    free(argument);
    slm_pool *pool = start.pool;
    unsigned seen = 0;
    for (;;) {
        unsigned now = atomic_load(&pool->generation);
        for (int spin = 0; now == seen && spin < SPINS; spin++) {
            SLM_PAUSE();
            now = atomic_load(&pool->generation);
        }
        if (now == seen) {
            // Announce the sleep before the last look at the counter; the submitter bumps the
            // counter before it looks at the sleepers, so one of the two sees the other.
            pthread_mutex_lock(&pool->lock);
            atomic_fetch_add(&pool->sleepers, 1);
            while ((now = atomic_load(&pool->generation)) == seen && !atomic_load(&pool->stopping))
                pthread_cond_wait(&pool->wake, &pool->lock);
            atomic_fetch_sub(&pool->sleepers, 1);
            pthread_mutex_unlock(&pool->lock);
        }
        if (atomic_load(&pool->stopping)) return NULL;
        seen = now;
        pool->job(pool->context, start.part, pool->threads);
        atomic_fetch_sub(&pool->pending, 1);
    }
}

slm_pool *slm_pool_create(int threads) {
    slm_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pool->threads = threads < 1 ? 1 : threads;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_mutex_init(&pool->busy, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pool->workers = calloc((size_t)pool->threads, sizeof(pthread_t));
    for (int i = 1; i < pool->threads; i++) {
        struct worker_start *start = malloc(sizeof *start);
        start->pool = pool;
        start->part = i;
        if (pthread_create(&pool->workers[i], NULL, worker_main, start) != 0) {
            // Fewer threads than asked: run with those that started.
            free(start);
            pool->threads = i;
            break;
        }
    }
    return pool;
}

void slm_pool_destroy(slm_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->lock);
    atomic_store(&pool->stopping, 1);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 1; i < pool->threads; i++) pthread_join(pool->workers[i], NULL);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    pthread_mutex_destroy(&pool->busy);
    free(pool->workers);
    free(pool);
}

int slm_pool_threads(const slm_pool *pool) { return pool->threads; }

void slm_pool_run(slm_pool *pool, void (*job)(void *, int, int), void *context) {
    pthread_mutex_lock(&pool->busy);
    if (pool->threads == 1) { job(context, 0, 1); pthread_mutex_unlock(&pool->busy); return; }
    pool->job = job;
    pool->context = context;
    atomic_store(&pool->pending, pool->threads - 1);
    atomic_fetch_add(&pool->generation, 1);
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->lock);
    }
    job(context, 0, pool->threads);
    while (atomic_load(&pool->pending) > 0) SLM_PAUSE();
    pthread_mutex_unlock(&pool->busy);
}
