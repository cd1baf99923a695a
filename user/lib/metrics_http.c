// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "lib/metrics_http.h"

#define REQ_MAX 2048		/* a request's head, at most */
#define IO_TIMEOUT_MS 2000	/* to send its head, and again to take the
				   answer: whole, not per read */

struct metrics_http {
	int fd;			/* listening */
	int stop[2];		/* a byte in it: the thread ends */
	pthread_t thread;
	pthread_mutex_t lock;
	char *text;		/* under lock */
	size_t len;
};

/* PORT, :PORT, HOST:PORT, [IPv6]:PORT into ss. 0 or -EINVAL. */
static int parse_addr(const char *arg, struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[64] = "127.0.0.1";
	const char *colon = strrchr(arg, ':'), *port_s = colon ? colon + 1 : arg;
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char *end;
	long port;

	if (colon && colon > arg) {
		size_t n = (size_t)(colon - arg);

		if (arg[0] == '[' && colon[-1] == ']') {
			arg++;
			n -= 2;
		}
		if (n == 0 || n >= sizeof(host))
			return -EINVAL;
		memcpy(host, arg, n);
		host[n] = 0;
	}
	if (!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	errno = 0;
	port = strtol(port_s, &end, 10);
	if (!*port_s || *end || errno || port < 1 || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

bool metrics_addr(const char *arg)
{
	const char *colon = strrchr(arg, ':'), *port = colon ? colon + 1 : arg;

	/* by its form (a bad address is then said as such, not taken for a
	 * file): no '/', and PORT or ...:PORT */
	return !strchr(arg, '/') && *port && strspn(port, "0123456789") == strlen(port);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Until deadline (ms): fd ready for events, true; false when the time is
 * up, the connection broke, or we are stopping (the stop pipe readable):
 * a client that trickles its bytes holds us for the deadline at most. */
static bool wait_ready(struct metrics_http *h, int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = events },
				       { .fd = h->stop[0], .events = POLLIN } };
		uint64_t now = now_ms();
		int n;

		if (now >= deadline)
			return false;
		n = poll(p, 2, (int)(deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || p[1].revents)
			return false;
		return (p[0].revents & events) != 0;
	}
}

static void send_all(struct metrics_http *h, int fd, const char *p, size_t n,
		     uint64_t deadline)
{
	while (n) {
		ssize_t w;

		if (!wait_ready(h, fd, POLLOUT, deadline))
			return;
		w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			return;		/* gone */
		p += w;
		n -= (size_t)w;
	}
}

static void reply(struct metrics_http *h, int fd, const char *status, const char *type,
		  const char *body, size_t n, bool head)
{
	uint64_t deadline = now_ms() + IO_TIMEOUT_MS;
	char hdr[256];
	int k = snprintf(hdr, sizeof(hdr), "HTTP/1.0 %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, type, n);

	send_all(h, fd, hdr, (size_t)k, deadline);
	if (!head)
		send_all(h, fd, body, n, deadline);
}

/* One connection: its request head read (within REQ_MAX and the timeout),
 * answered, closed. */
static void serve(struct metrics_http *h, int fd)
{
	uint64_t deadline = now_ms() + IO_TIMEOUT_MS;
	char req[REQ_MAX + 1], *text = NULL;
	size_t got = 0, len = 0;
	bool head;

	while (got < REQ_MAX) {
		ssize_t r;

		if (!wait_ready(h, fd, POLLIN, deadline))
			return;		/* too slow, or we are stopping */
		r = recv(fd, req + got, REQ_MAX - got, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		req[got] = 0;
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[got] = 0;
	head = !strncmp(req, "HEAD ", 5);
	if (strncmp(req, "GET ", 4) && !head) {
		static const char m[] = "memtrace-bpf: only GET /metrics here\n";

		reply(h, fd, "405 Method Not Allowed", "text/plain; charset=utf-8", m,
		      sizeof(m) - 1, false);
		return;
	}
	if (strncmp(req + (head ? 5 : 4), "/metrics ", 9) &&
	    strncmp(req + (head ? 5 : 4), "/metrics?", 9)) {
		static const char m[] = "memtrace-bpf: the metrics are at /metrics\n";

		reply(h, fd, "404 Not Found", "text/plain; charset=utf-8", m, sizeof(m) - 1, head);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (h->len && (text = malloc(h->len))) {
		memcpy(text, h->text, h->len);
		len = h->len;
	}
	pthread_mutex_unlock(&h->lock);
	if (!text) {
		/* no figures yet (the first comes within a tick), or no memory */
		static const char m[] = "memtrace-bpf: no figures yet\n";

		reply(h, fd, "503 Service Unavailable", "text/plain; charset=utf-8", m,
		      sizeof(m) - 1, head);
		return;
	}
	reply(h, fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", text, len, head);
	free(text);
}

static void *loop(void *arg)
{
	struct metrics_http *h = arg;

	for (;;) {
		struct pollfd p[2] = { { .fd = h->fd, .events = POLLIN },
				       { .fd = h->stop[0], .events = POLLIN } };
		int c;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		c = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			/* out of fds or memory: the connection waits in the
			 * backlog; not a busy loop meanwhile */
			if (errno != EAGAIN && errno != ECONNABORTED && errno != EINTR)
				poll(NULL, 0, 100);
			continue;
		}
		serve(h, c);
		close(c);
	}
	return NULL;
}

struct metrics_http *metrics_http__start(const char *addr, char *err, size_t errlen)
{
	struct metrics_http *h = calloc(1, sizeof(*h));
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, e;

	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->fd = h->stop[0] = h->stop[1] = -1;
	pthread_mutex_init(&h->lock, NULL);
	if (parse_addr(addr, &ss, &sl)) {
		snprintf(err, errlen, "--metrics %s: not an address to listen on (PORT, :PORT, "
			 "HOST:PORT or [IPv6]:PORT, HOST an IP address or localhost)", addr);
		goto fail;
	}
	h->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (h->fd < 0 || setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(h->fd, (struct sockaddr *)&ss, sl) || listen(h->fd, 16) ||
	    pipe2(h->stop, O_CLOEXEC)) {
		snprintf(err, errlen, "--metrics %s: cannot listen there: %s%s", addr,
			 strerror(errno), errno == EADDRINUSE ? " (another program has that "
			 "port: give another)" : "");
		goto fail;
	}
	{
		/* signals are the main thread's: blocked in the thread from
		 * its first instruction */
		sigset_t all, old;

		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		e = pthread_create(&h->thread, NULL, loop, h);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (e) {
		snprintf(err, errlen, "--metrics %s: cannot start its thread: %s", addr, strerror(e));
		goto fail;
	}
	return h;
fail:
	if (h->fd >= 0)
		close(h->fd);
	if (h->stop[0] >= 0) {
		close(h->stop[0]);
		close(h->stop[1]);
	}
	pthread_mutex_destroy(&h->lock);
	free(h);
	return NULL;
}

int metrics_http__set(struct metrics_http *h, const char *text, size_t len)
{
	char *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, text, len);
	pthread_mutex_lock(&h->lock);
	free(h->text);
	h->text = copy;
	h->len = len;
	pthread_mutex_unlock(&h->lock);
	return 0;
}

void metrics_http__stop(struct metrics_http *h)
{
	if (!h)
		return;
	/* a byte into an empty pipe of ours: cannot fail */
	if (write(h->stop[1], "x", 1) != 1)
		fprintf(stderr, "memtrace-bpf: bug: cannot stop the metrics server: %s\n",
			strerror(errno));
	pthread_join(h->thread, NULL);
	close(h->fd);
	close(h->stop[0]);
	close(h->stop[1]);
	pthread_mutex_destroy(&h->lock);
	free(h->text);
	free(h);
}
