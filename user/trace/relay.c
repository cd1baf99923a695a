// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "trace/relay.h"

static void *relay_main(void *arg)
{
	struct relay *rl = arg;

	/* cancelled only while blocked in write/poll, never holding mu */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_mutex_lock(&rl->mu);
	for (;;) {
		size_t head, n;
		ssize_t w;
		int e;

		while (!rl->len && !rl->closing)
			pthread_cond_wait(&rl->cv, &rl->mu);
		if (!rl->len)
			break;
		head = rl->head;
		n = rl->len < rl->cap - head ? rl->len : rl->cap - head;
		pthread_mutex_unlock(&rl->mu);
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		w = write(rl->fd, rl->buf + head, n);
		e = errno;
		if (w < 0 && e == EAGAIN) {
			/* our stdout is O_NONBLOCK (someone else's choice):
			 * wait until it takes more */
			struct pollfd pf = { .fd = rl->fd, .events = POLLOUT };

			poll(&pf, 1, -1);
		}
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		pthread_mutex_lock(&rl->mu);
		if (w > 0) {
			rl->head = (head + (size_t)w) % rl->cap;
			rl->len -= (size_t)w;
			if (rl->want_space) {
				uint64_t one = 1;

				rl->want_space = false;
				if (write(rl->wake_fd, &one, sizeof(one)) < 0) {
					/* the main loop looks again within 10 ms */
				}
			}
		} else if (!(w < 0 && (e == EINTR || e == EAGAIN))) {
			rl->err = w < 0 ? e : EIO;
			rl->dead = true;
			rl->len = 0;
			break;
		}
	}
	rl->done = true;
	pthread_mutex_unlock(&rl->mu);
	return NULL;
}

size_t relay__room(struct relay *rl, size_t limit)
{
	size_t room;

	if (!rl->buf)
		return limit;
	pthread_mutex_lock(&rl->mu);
	if (rl->dead)
		room = limit;	/* only the log now */
	else
		room = rl->len < limit ? limit - rl->len : 0;
	if (!room)
		rl->want_space = true;
	pthread_mutex_unlock(&rl->mu);
	return room;
}

int relay__start(struct relay *rl, int fd, int wake_fd, size_t cap)
{
	sigset_t all, old;
	int e;

	rl->buf = malloc(cap);
	if (!rl->buf)
		return -ENOMEM;
	rl->cap = cap;
	rl->fd = fd;
	rl->wake_fd = wake_fd;
	pthread_mutex_init(&rl->mu, NULL);
	pthread_cond_init(&rl->cv, NULL);
	/* signals stay with the main thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&rl->th, NULL, relay_main, rl);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		pthread_mutex_destroy(&rl->mu);
		pthread_cond_destroy(&rl->cv);
		free(rl->buf);
		rl->buf = NULL;
		return -e;
	}
	rl->started = true;
	return 0;
}

size_t relay__push(struct relay *rl, const char *b, size_t n)
{
	size_t fit;

	pthread_mutex_lock(&rl->mu);
	fit = rl->dead ? 0 : rl->cap - rl->len < n ? rl->cap - rl->len : n;
	for (size_t k = 0; k < fit;) {
		size_t at = (rl->head + rl->len) % rl->cap;
		size_t m = fit - k < rl->cap - at ? fit - k : rl->cap - at;

		memcpy(rl->buf + at, b + k, m);
		rl->len += m;
		k += m;
	}
	if (fit)
		pthread_cond_signal(&rl->cv);
	pthread_mutex_unlock(&rl->mu);
	return fit;
}

void relay__stop(struct relay *rl, int grace_ms)
{
	bool done;

	if (!rl->started)
		return;
	pthread_mutex_lock(&rl->mu);
	rl->closing = true;
	pthread_cond_signal(&rl->cv);
	pthread_mutex_unlock(&rl->mu);
	for (int t = 0;; t += 10) {
		pthread_mutex_lock(&rl->mu);
		done = rl->done;
		pthread_mutex_unlock(&rl->mu);
		if (done || t >= grace_ms)
			break;
		usleep(10000);
	}
	if (!done)
		pthread_cancel(rl->th);
	pthread_join(rl->th, NULL);
	pthread_mutex_destroy(&rl->mu);
	pthread_cond_destroy(&rl->cv);
	free(rl->buf);
	memset(rl, 0, sizeof(*rl));
}

int relay__error(struct relay *rl)
{
	int err;

	if (!rl->started)
		return 0;
	pthread_mutex_lock(&rl->mu);
	err = rl->dead ? rl->err : 0;
	pthread_mutex_unlock(&rl->mu);
	return err;
}

bool relay__pending(struct relay *rl)
{
	bool left;

	if (!rl->started)
		return false;
	pthread_mutex_lock(&rl->mu);
	left = rl->len && !rl->dead;
	pthread_mutex_unlock(&rl->mu);
	return left;
}
