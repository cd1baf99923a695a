/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * memtrace-bpf report: the chart of one trace, drawn on canvas from the
 * data the page embeds (user/report/html.c writes it):
 *   series.NAME: levels of min/max buckets, coarsest first; a level is
 *     {w, o, i, lo, hi, end, n?, xh?, xe?}: bucket k starts at
 *     o + (i[0] + ... + i[k]) * w ns after t0, holds the exact lowest and
 *     highest value in it (null: none), the value at its end (null: none
 *     there), and the parts (anon, file, shmem) at its highest and at its
 *     end; a bucket not listed holds the value of the one before it.
 *   raw: the rows of the finest buckets listed in b, whole.
 * Each pixel column shows the lowest and highest value of what lies under
 * it, from the coarsest level whose buckets are no wider than a pixel;
 * past the finest, single rows where the page has them.
 */
(function () {
	'use strict';

	var D, SUM = null;
	var COL = {
		anon: '#9ecae1', file: '#c7e9c0', shmem: '#fdd0a2', total: '#1f4e79',
		band: 'rgba(31,78,121,0.38)', poll0: '#f28e2b', poll1: '#8c510a', vmsize: '#3a8a84',
		swap: '#b07aa1', spike: 'rgba(225,87,89,0.13)', spikeEdge: 'rgba(225,87,89,0.55)',
		mark: '#555', ckpt: '#6a3d9a', rep: '#e31a1c', guard: '#c00', alert: '#e68a00',
		grid: '#ececec', axis: '#444', lane: '#6b8fb3', laneBand: 'rgba(31,78,121,0.5)'
	};
	var STAGE_COL = ['#4e79a7', '#f28e2b', '#59a14f', '#b07aa1', '#76b7b2', '#edc948',
			 '#ff9da7', '#9c755f'];
	var M = { left: 70, right: 70, top: 30, bottom: 30 };
	var MAIN_H = 400, LANE_H = 48;

	/* ---- formatting ---- */

	function fmtKB(kb) {
		var a = Math.abs(kb), s = kb < 0 ? '-' : '';
		if (a < 1024) return s + a.toFixed(0) + ' KiB';
		if (a < 1024 * 1024) return s + (a / 1024).toFixed(a < 10240 ? 2 : 1) + ' MiB';
		return s + (a / 1048576).toFixed(2) + ' GiB';
	}
	function fmtDur(ns) {
		if (ns < 1e3) return ns.toFixed(0) + ' ns';
		if (ns < 1e6) return (ns / 1e3).toFixed(ns < 1e4 ? 2 : 1) + ' us';
		if (ns < 1e9) return (ns / 1e6).toFixed(ns < 1e7 ? 2 : 1) + ' ms';
		return (ns / 1e9).toFixed(ns < 1e10 ? 3 : 1) + ' s';
	}
	function fmtT(ns, dec) { return (ns / 1e9).toFixed(dec === undefined ? 6 : dec); }
	function tsNs(t) {
		try { return (BigInt(D.t0) + BigInt(Math.round(t))).toString(); } catch (e) { return ''; }
	}
	function niceStep(span, n) {
		var raw = span / n, mag, f;
		if (!(raw > 0)) return 1;
		mag = Math.pow(10, Math.floor(Math.log10(raw)));
		f = raw / mag;
		return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
	}
	function sizeUnit(maxKB) {
		if (maxKB >= 4 * 1048576) return { div: 1048576, name: 'GiB' };
		if (maxKB >= 4 * 1024) return { div: 1024, name: 'MiB' };
		return { div: 1, name: 'KiB' };
	}
	function esc(s) {
		return String(s).replace(/[&<>"']/g, function (c) {
			return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
		});
	}

	/* ---- the data ---- */

	function decodeLevel(L) {
		var n = L.i.length, t = new Float64Array(n), idx = -1, k;
		for (k = 0; k < n; k++) {
			idx += L.i[k];
			t[k] = L.o + idx * L.w;
		}
		return { w: L.w, o: L.o, t: t, lo: L.lo, hi: L.hi, end: L.end, n: L.n || null,
			 xh: L.xh || null, xe: L.xe || null };
	}
	function decodeSeries(levels) {
		return levels && levels.length ? { levels: levels.map(decodeLevel) } : null;
	}
	function decodeRaw(R) {
		var n = R.ts.length, ts = new Float64Array(n), t = 0, k, b = [], idx = -1;
		for (k = 0; k < n; k++) {
			t += R.ts[k];
			ts[k] = t;
		}
		for (k = 0; k < R.b.length; k++) {
			idx += R.b[k];
			b.push(idx);
		}
		return { w: R.w, o: R.o, whole: b, ts: ts, v: R.v, an: R.an, fi: R.fi, sh: R.sh,
			 vs: R.vs, sw: R.sw, pr: R.pr, pid: R.pid, ev: R.ev, ca: R.ca, str: R.str };
	}
	/* first index i with a[i] > x (a sorted) */
	function firstAbove(a, x) {
		var lo = 0, hi = a.length, m;
		while (lo < hi) {
			m = (lo + hi) >> 1;
			if (a[m] > x) hi = m; else lo = m + 1;
		}
		return lo;
	}
	/* first index i with a[i] >= x */
	function firstAtLeast(a, x) {
		var lo = 0, hi = a.length, m;
		while (lo < hi) {
			m = (lo + hi) >> 1;
			if (a[m] >= x) hi = m; else lo = m + 1;
		}
		return lo;
	}
	function hasSorted(a, x) {
		var i = firstAtLeast(a, x);
		return i < a.length && a[i] === x;
	}

	/* The level to draw: the coarsest whose buckets are no wider than
	 * a pixel (px ns); else the finest there is. */
	function pick(S, px) {
		for (var k = 0; k < S.levels.length; k++)
			if (S.levels[k].w <= px) return S.levels[k];
		return S.levels[S.levels.length - 1];
	}

	/*
	 * Per pixel column of [a, b) (W columns): the lowest and highest value
	 * (NaN: none), the parts at the highest (x, 3 per column), the rows
	 * under it (n), and, where rows are drawn one by one, which (rows).
	 * raw: the rows kept whole, used past the finest level.
	 */
	function columns(S, a, b, W, raw, last) {
		var px = (b - a) / W, lv = pick(S, px), w = lv.w, t = lv.t;
		var lo = new Float64Array(W).fill(NaN), hi = new Float64Array(W).fill(NaN);
		var parts = !!lv.xh, x = parts ? new Float64Array(3 * W) : null;
		var n = new Float64Array(W), useRaw = raw && w > px && raw.w === w;
		var k = firstAbove(t, a - w), cur = null, curX = null, prevEnd = -Infinity;
		var rowsShown = [];

		function col(tt) { return Math.floor((tt - a) / px); }
		function put(c, l, h, xx, xo) {
			if (c < 0 || c >= W) return;
			if (isNaN(hi[c]) || h > hi[c]) {
				hi[c] = h;
				if (parts && xx) { x[3 * c] = xx[xo]; x[3 * c + 1] = xx[xo + 1]; x[3 * c + 2] = xx[xo + 2]; }
			}
			if (isNaN(lo[c]) || l < lo[c]) lo[c] = l;
		}
		/* the value held from t0 to t1 */
		function hold(t0, t1) {
			if (cur === null) return;
			var c0 = Math.max(0, col(Math.max(t0, a))), c1 = Math.min(W - 1, col(Math.min(t1, b)));
			for (var c = c0; c <= c1; c++) put(c, cur, cur, curX, 0);
		}
		if (k > 0) {
			cur = lv.end[k - 1];
			curX = parts && cur !== null ? lv.xe.slice(3 * (k - 1), 3 * k) : null;
			prevEnd = t[k - 1] + w;
		}
		for (; k < t.length && t[k] < b; k++) {
			var s = t[k], e = s + w, c0, c1, c;
			hold(prevEnd, s);
			if (useRaw && hasSorted(raw.whole, Math.round((s - raw.o) / raw.w))) {
				/* every row of this bucket: drawn one by one */
				var r0 = firstAtLeast(raw.ts, s), r1 = firstAtLeast(raw.ts, e), tt = s;
				for (var r = r0; r < r1; r++) {
					hold(tt, raw.ts[r]);
					cur = raw.v[r];
					curX = parts ? [raw.an[r], raw.fi[r], raw.sh[r]] : null;
					tt = raw.ts[r];
					c = col(tt);
					put(c, cur, cur, curX, 0);
					if (c >= 0 && c < W) { n[c]++; rowsShown.push(r); }
				}
				prevEnd = tt;
				continue;
			}
			if (lv.hi[k] !== null) {
				c0 = Math.max(0, col(s));
				c1 = Math.min(W - 1, col(e - 1e-6));
				for (c = c0; c <= c1; c++) put(c, lv.lo[k], lv.hi[k], lv.xh, 3 * k);
				if (lv.n && c0 < W && c1 >= 0) n[Math.max(c0, Math.min(c1, col(s)))] += lv.n[k];
			}
			cur = lv.end[k];
			curX = parts && cur !== null ? lv.xe.slice(3 * k, 3 * k + 3) : null;
			prevEnd = e;
		}
		hold(prevEnd, Math.min(b, last));
		return { lo: lo, hi: hi, x: x, n: n, w: w, px: px, raw: useRaw, rows: rowsShown };
	}

	/* ---- the view ---- */

	var view = { a: 0, b: 1 };
	var full = { a: 0, b: 1 };
	var show = {};
	var series = {};
	var lanes = [];
	var raw = null;
	var frame = null;	/* the last drawing, for the tooltip */
	var drag = null;

	function plotW() {
		var box = document.getElementById('chart');
		return Math.max(200, Math.floor(box.clientWidth) - M.left - M.right);
	}
	function xOf(t) { return M.left + (t - view.a) / (view.b - view.a) * frame.W; }
	function tOf(x) { return view.a + (x - M.left) / frame.W * (view.b - view.a); }

	function setupCanvas(cv, w, h) {
		var dpr = window.devicePixelRatio || 1, ctx;
		cv.style.width = w + 'px';
		cv.style.height = h + 'px';
		cv.width = Math.round(w * dpr);
		cv.height = Math.round(h * dpr);
		ctx = cv.getContext('2d');
		ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
		return ctx;
	}

	function visibleMax(C) {
		var m = 0;
		for (var c = 0; c < C.hi.length; c++) if (C.hi[c] > m) m = C.hi[c];
		return m;
	}

	/* a step line along the columns' highest, with each column's
	 * lowest-highest as a vertical stroke */
	function stepLine(ctx, C, y, W, withRange) {
		var pen = false;
		ctx.beginPath();
		for (var c = 0; c < W; c++) {
			if (isNaN(C.hi[c])) { pen = false; continue; }
			var x = M.left + c, yh = y(C.hi[c]);
			if (!pen) ctx.moveTo(x, yh); else ctx.lineTo(x, yh);
			if (withRange && C.lo[c] < C.hi[c]) {
				ctx.lineTo(x, y(C.lo[c]));
				ctx.lineTo(x, yh);
			}
			ctx.lineTo(x + 1, yh);
			pen = true;
		}
		ctx.stroke();
	}

	function drawMain() {
		var box = document.getElementById('chart'), cv = box.querySelector('canvas');
		var W = plotW(), H = MAIN_H, ph = H - M.top - M.bottom, ctx, k;
		var a = view.a, b = view.b, last = D.last, C = {}, ymax, vmax = 0, yu, yst, ytop;
		if (!cv) {
			cv = document.createElement('canvas');
			cv.id = 'main-canvas';
			box.appendChild(cv);
			attachEvents(cv);
		}
		ctx = setupCanvas(cv, W + M.left + M.right, H);
		frame = { W: W, H: H, C: C };
		C.total = columns(series.total, a, b, W, raw, last);
		['vmsize', 'swap', 'poll0', 'poll1'].forEach(function (s) {
			if (series[s] && show[s]) C[s] = columns(series[s], a, b, W, null, last);
		});
		ymax = visibleMax(C.total);
		['swap', 'poll0', 'poll1'].forEach(function (s) {
			if (C[s]) ymax = Math.max(ymax, visibleMax(C[s]));
		});
		if (show.thresholds) D.thresholds.forEach(function (th) {
			if (th[2] > ymax && th[2] < 1.6 * ymax) ymax = th[2];
		});
		if (!(ymax > 0)) ymax = 1024;
		yu = sizeUnit(ymax);
		yst = niceStep(ymax * 1.06 / yu.div, 6);
		ytop = Math.ceil(ymax * 1.06 / yu.div / yst) * yst * yu.div;
		function y(v) { return M.top + ph - v / ytop * ph; }
		frame.y = y;
		frame.ytop = ytop;

		ctx.fillStyle = '#fff';
		ctx.fillRect(0, 0, W + M.left + M.right, H);
		/* grid and axes */
		ctx.font = '11px sans-serif';
		ctx.fillStyle = COL.axis;
		ctx.strokeStyle = COL.grid;
		ctx.lineWidth = 1;
		ctx.textAlign = 'right';
		for (var v = 0; v <= ytop / yu.div + 1e-9; v += yst) {
			var yy = Math.round(y(v * yu.div)) + 0.5;
			ctx.beginPath(); ctx.moveTo(M.left, yy); ctx.lineTo(M.left + W, yy); ctx.stroke();
			ctx.fillText(+v.toPrecision(6) + '', M.left - 6, yy + 4);
		}
		ctx.save();
		ctx.translate(16, M.top + ph / 2);
		ctx.rotate(-Math.PI / 2);
		ctx.textAlign = 'center';
		ctx.fillText('RSS (' + yu.name + ')', 0, 0);
		ctx.restore();
		var xs = niceStep((b - a) / 1e9, Math.max(2, Math.floor(W / 110)));
		var xdec = xs >= 1 ? 0 : Math.min(9, Math.ceil(-Math.log10(xs) - 1e-9));
		ctx.textAlign = 'center';
		for (var ts = Math.ceil(a / 1e9 / xs) * xs; ts <= b / 1e9 + xs * 1e-9; ts += xs) {
			var xx = Math.round(xOf(ts * 1e9)) + 0.5;
			ctx.strokeStyle = COL.grid;
			ctx.beginPath(); ctx.moveTo(xx, M.top); ctx.lineTo(xx, M.top + ph); ctx.stroke();
			ctx.fillText(ts.toFixed(xdec), xx, M.top + ph + 16);
		}
		ctx.fillText('time (s)', M.left + W / 2, H - 2);

		ctx.save();
		ctx.beginPath();
		ctx.rect(M.left, 0, W, H - M.bottom);
		ctx.clip();
		/* stage bands and marks above the plot */
		if (show.stages) D.bands.forEach(function (bd) {
			if (bd[1] < a || bd[0] > b) return;
			var x0 = xOf(bd[0]), x1 = xOf(bd[1]);
			ctx.fillStyle = STAGE_COL[bd[2] % 8];
			ctx.fillRect(x0, 4 + Math.min(bd[4], 2) * 3, Math.max(1, x1 - x0), 6);
		});
		if (show.marks) {
			ctx.strokeStyle = COL.mark;
			ctx.beginPath();
			D.marks.forEach(function (m) {
				if (m[0] < a || m[0] > b) return;
				var xx = Math.round(xOf(m[0])) + 0.5;
				ctx.moveTo(xx, 14); ctx.lineTo(xx, M.top - 2);
			});
			ctx.stroke();
		}
		/* spikes shaded */
		if (show.spikes) D.spikes.forEach(function (sp) {
			if (sp[4] < a || sp[2] > b) return;
			var x0 = xOf(sp[2]), x1 = xOf(sp[4]), wd = Math.max(1, x1 - x0);
			ctx.fillStyle = COL.spike;
			ctx.fillRect(x0, M.top, wd, ph);
			if (wd > 60) {
				ctx.fillStyle = COL.spikeEdge;
				ctx.textAlign = 'left';
				ctx.fillText('+' + fmtKB(sp[6] - sp[5]) + ' in ' + fmtDur(sp[4] - sp[2]), x0 + 3, M.top + 12);
			}
		});
		/* the parts, stacked at each column's highest */
		var T = C.total;
		if (show.parts && T.x) {
			var layer = [COL.anon, COL.file, COL.shmem];
			for (var c = 0; c < W; c++) {
				if (isNaN(T.hi[c])) continue;
				var base = 0;
				for (k = 0; k < 3; k++) {
					var v2 = T.x[3 * c + k];
					if (v2 > 0) {
						ctx.fillStyle = layer[k];
						ctx.fillRect(M.left + c, y(base + v2), 1, y(base) - y(base + v2));
					}
					base += v2;
				}
			}
		}
		/* the total: each column's lowest to highest, and its top */
		if (show.total) {
			ctx.fillStyle = COL.band;
			for (c = 0; c < W; c++) {
				if (isNaN(T.hi[c])) continue;
				var yh = y(T.hi[c]), yl = y(T.lo[c]);
				ctx.fillRect(M.left + c, yh, 1, Math.max(1, yl - yh));
			}
			ctx.strokeStyle = COL.total;
			ctx.lineWidth = 1.3;
			stepLine(ctx, T, y, W, false);
		}
		if (C.swap) {
			ctx.strokeStyle = COL.swap;
			ctx.lineWidth = 1.3;
			stepLine(ctx, C.swap, y, W, true);
		}
		['poll1', 'poll0'].forEach(function (s) {
			if (!C[s]) return;
			ctx.strokeStyle = COL[s];
			ctx.lineWidth = 1.4;
			ctx.setLineDash(s === 'poll0' ? [5, 3] : [2, 3]);
			stepLine(ctx, C[s], y, W, true);
			ctx.setLineDash([]);
		});
		if (C.vmsize) {
			vmax = visibleMax(C.vmsize);
			var vu = sizeUnit(vmax), vst = niceStep(vmax * 1.06 / vu.div, 4);
			var vtop = Math.ceil(vmax * 1.06 / vu.div / vst) * vst * vu.div || 1;
			frame.vtop = vtop;
			ctx.strokeStyle = COL.vmsize;
			ctx.lineWidth = 1.2;
			ctx.setLineDash([2, 2]);
			stepLine(ctx, C.vmsize, function (vv) { return M.top + ph - vv / vtop * ph; }, W, true);
			ctx.setLineDash([]);
			ctx.restore();
			ctx.save();
			ctx.fillStyle = COL.vmsize;
			ctx.textAlign = 'left';
			for (v = 0; v <= vtop / vu.div + 1e-9; v += vst)
				ctx.fillText(+v.toPrecision(6) + '', M.left + W + 6, M.top + ph - v * vu.div / vtop * ph + 4);
			ctx.translate(M.left + W + 58, M.top + ph / 2);
			ctx.rotate(Math.PI / 2);
			ctx.textAlign = 'center';
			ctx.fillText('VmSize (' + vu.name + ')', 0, 0);
			ctx.restore();
			ctx.save();
			ctx.beginPath();
			ctx.rect(M.left, 0, W, H - M.bottom);
			ctx.clip();
		}
		/* guard and alert lines */
		if (show.thresholds) D.thresholds.forEach(function (th) {
			var yy = Math.round(y(th[2])) + 0.5, col = th[1] ? COL.guard : COL.alert;
			ctx.strokeStyle = col;
			ctx.setLineDash([6, 3]);
			ctx.beginPath(); ctx.moveTo(M.left, yy); ctx.lineTo(M.left + W, yy); ctx.stroke();
			ctx.setLineDash([]);
			if (th[0] >= a && th[0] <= b) {
				var xx = xOf(th[0]);
				ctx.beginPath(); ctx.moveTo(xx, yy - 6); ctx.lineTo(xx, yy + 6); ctx.stroke();
			}
			ctx.fillStyle = col;
			ctx.textAlign = 'left';
			ctx.fillText((th[1] ? '--kill-at ' : 'alert ') + fmtKB(th[2]), M.left + 4, yy - 3);
		});
		/* checkpoints: the exact value, what was reported, what none saw */
		if (show.checkpoints) {
			D.checkpoints.forEach(function (cp, i) {
				var prev = cp[5] >= 0 ? D.checkpoints[cp[5]] : null;
				if (cp[0] < a || cp[0] > b) return;
				if (prev && cp[3] > Math.max(cp[2], prev[2])) {
					var xm = xOf(cp[4]);
					ctx.strokeStyle = COL.ckpt;
					ctx.setLineDash([2, 2]);
					ctx.beginPath();
					ctx.moveTo(xm, y(Math.max(cp[2], prev[2])));
					ctx.lineTo(xm, y(cp[3]));
					ctx.stroke();
					ctx.setLineDash([]);
				}
				ctx.fillStyle = COL.ckpt;
				ctx.beginPath();
				ctx.arc(xOf(cp[0]), y(cp[2]), 3.5, 0, 2 * Math.PI);
				ctx.fill();
			});
			D.reported.forEach(function (rp) {
				if (rp[1] === null || rp[0] < a || rp[0] > b) return;
				var xx = xOf(rp[0]), yy = y(rp[1]);
				ctx.strokeStyle = COL.rep;
				ctx.lineWidth = 1.5;
				ctx.beginPath();
				ctx.moveTo(xx - 4, yy - 4); ctx.lineTo(xx + 4, yy + 4);
				ctx.moveTo(xx - 4, yy + 4); ctx.lineTo(xx + 4, yy - 4);
				if (rp[4] !== rp[1]) { ctx.moveTo(xx, yy); ctx.lineTo(xx, y(rp[4])); }
				ctx.stroke();
				ctx.lineWidth = 1;
			});
		}
		/* the exact peak */
		if (D.peak.t >= a && D.peak.t <= b) {
			var px = xOf(D.peak.t), py = y(D.peak.kb), right = px > M.left + W * 0.72;
			ctx.fillStyle = '#c00';
			ctx.beginPath(); ctx.arc(px, py, 4, 0, 2 * Math.PI); ctx.fill();
			ctx.textAlign = right ? 'right' : 'left';
			ctx.font = '12px sans-serif';
			ctx.fillText('peak ' + fmtKB(D.peak.kb) + ' at ' + fmtT(D.peak.t) + ' s',
				     px + (right ? -8 : 8), py < M.top + 14 ? py + 14 : py - 6);
		}
		if (drag && drag.sel) {
			ctx.fillStyle = 'rgba(70,110,200,0.18)';
			ctx.fillRect(Math.min(drag.x0, drag.x1), M.top, Math.abs(drag.x1 - drag.x0), ph);
		}
		ctx.restore();
		ctx.strokeStyle = '#999';
		ctx.strokeRect(M.left + 0.5, M.top + 0.5, W, ph);
	}

	function drawLanes() {
		var box = document.getElementById('lanes');
		if (!lanes.length) return;
		if (!box.firstChild) {
			lanes.forEach(function (L) {
				var cv = document.createElement('canvas');
				cv.className = 'lane';
				box.appendChild(cv);
				L.cv = cv;
				attachEvents(cv);
			});
		}
		var W = frame.W;
		lanes.forEach(function (L) {
			var ctx = setupCanvas(L.cv, W + M.left + M.right, LANE_H), C, m, c;
			var h = LANE_H - 16;
			ctx.fillStyle = '#fff';
			ctx.fillRect(0, 0, W + M.left + M.right, LANE_H);
			C = columns(L.s, view.a, view.b, W, null, D.last);
			L.C = C;
			m = Math.max(visibleMax(C), 1);
			function y(v) { return 14 + h - v / m * h; }
			for (c = 0; c < W; c++) {
				if (isNaN(C.hi[c])) continue;
				ctx.fillStyle = L.others ? '#c9b8d6' : '#c6d9ec';
				ctx.fillRect(M.left + c, y(C.hi[c]), 1, y(0) - y(C.hi[c]));
				ctx.fillStyle = COL.laneBand;
				ctx.fillRect(M.left + c, y(C.hi[c]), 1, Math.max(1, y(C.lo[c]) - y(C.hi[c])));
			}
			ctx.strokeStyle = '#ddd';
			ctx.strokeRect(M.left + 0.5, 14.5, W, h);
			ctx.fillStyle = COL.axis;
			ctx.font = '11px sans-serif';
			ctx.textAlign = 'left';
			ctx.fillText(L.label + ' \u00b7 up to ' + fmtKB(m) + ' here', M.left + 2, 11);
			ctx.textAlign = 'right';
			ctx.fillText(fmtKB(m), M.left - 6, 22);
		});
	}

	function drawRange() {
		var r = document.getElementById('range'), T = frame.C.total;
		r.textContent = 'Shown: ' + fmtT(view.a) + ' s to ' + fmtT(view.b) + ' s (' +
			fmtDur(view.b - view.a) + '); each pixel ' + fmtDur(T.px) + '; ' +
			(T.raw ? 'single rows where the page has them (finest buckets ' + fmtDur(T.w) + ')'
			       : 'buckets of ' + fmtDur(T.w));
	}

	/* What the view shows, on the chart's element: the lowest and highest
	 * RSS drawn, and whether single rows are (for tests); the view in the
	 * address, so a zoomed page can be linked to. */
	function noteView() {
		var T = frame.C.total, lo = Infinity, hi = -Infinity, el = document.getElementById('chart');
		for (var c = 0; c < T.hi.length; c++) {
			if (isNaN(T.hi[c])) continue;
			if (T.lo[c] < lo) lo = T.lo[c];
			if (T.hi[c] > hi) hi = T.hi[c];
		}
		el.setAttribute('data-view', fmtT(view.a, 9) + ',' + fmtT(view.b, 9));
		el.setAttribute('data-view-min-kb', lo === Infinity ? '' : lo);
		el.setAttribute('data-view-max-kb', hi === -Infinity ? '' : hi);
		el.setAttribute('data-rows', T.raw ? T.rows.length : 0);
		el.setAttribute('data-px-ns', T.px.toFixed(3));
		if (view.a !== full.a || view.b !== full.b)
			history.replaceState(null, '', '#t=' + fmtT(view.a, 9) + ',' + fmtT(view.b, 9));
		else if (location.hash)
			history.replaceState(null, '', location.pathname + location.search);
	}

	function draw() {
		drawMain();
		drawLanes();
		drawRange();
		noteView();
	}

	function setView(a, b) {
		var minSpan = 200, pad = (full.b - full.a) * 0.02;
		if (b - a < minSpan) {
			var mid = (a + b) / 2;
			a = mid - minSpan / 2;
			b = mid + minSpan / 2;
		}
		if (b - a > full.b - full.a + 2 * pad) { a = full.a - pad; b = full.b + pad; }
		if (a < full.a - pad) { b += full.a - pad - a; a = full.a - pad; }
		if (b > full.b + pad) { a -= b - full.b - pad; b = full.b + pad; }
		view.a = a;
		view.b = b;
		draw();
	}

	/* ---- the tooltip ---- */

	var tip;

	function near(list, t, tol, ti) {
		var out = [];
		for (var i = 0; i < list.length; i++)
			if (Math.abs(list[i][ti] - t) <= tol) out.push(list[i]);
		return out;
	}

	function tipHtml(x) {
		var c = Math.floor(x - M.left), T = frame.C.total, t = tOf(x), px = T.px, out = [];
		if (c < 0 || c >= frame.W) return null;
		var ca = view.a + c * px, cb = ca + px;
		if (T.raw && T.rows.length) {
			/* the nearest row drawn */
			var best = -1, bd = Infinity;
			for (var i = 0; i < T.rows.length; i++) {
				var d = Math.abs(raw.ts[T.rows[i]] - t);
				if (d < bd) { bd = d; best = T.rows[i]; }
			}
			if (best >= 0 && bd <= 4 * px) {
				var r = best;
				out.push('<b>row</b> time_s ' + fmtT(raw.ts[r], 9) + ' (ts_ns ' + tsNs(raw.ts[r]) + ')');
				out.push((D.tree ? 'tree RSS ' : 'RSS ') + '<b>' + fmtKB(raw.v[r]) + '</b>' +
					 (D.tree ? ' &middot; pid ' + raw.pid[r] + ' RSS ' + fmtKB(raw.pr[r]) : ''));
				out.push('event ' + esc(raw.str[raw.ev[r]] || '?') + ' &middot; cause ' +
					 esc(raw.str[raw.ca[r]] || '-'));
				if (D.parts) out.push('anon ' + fmtKB(raw.an[r]) + ', file ' + fmtKB(raw.fi[r]) +
						       ', shmem ' + fmtKB(raw.sh[r]));
				out.push('VmSize ' + fmtKB(raw.vs[r]) + (raw.sw[r] ? ', swap ' + fmtKB(raw.sw[r]) : ''));
			}
		}
		if (!out.length) {
			out.push(fmtT(ca, 9) + ' s &ndash; ' + fmtT(cb, 9) + ' s');
			if (isNaN(T.hi[c])) out.push('no value');
			else {
				out.push((T.lo[c] === T.hi[c] ? 'RSS <b>' + fmtKB(T.hi[c]) + '</b>'
					 : 'lowest <b>' + fmtKB(T.lo[c]) + '</b>, highest <b>' + fmtKB(T.hi[c]) + '</b>') +
					 (T.n[c] ? ' &middot; ' + T.n[c] + ' row' + (T.n[c] === 1 ? '' : 's') : ''));
				if (T.x) out.push('at the highest: anon ' + fmtKB(T.x[3 * c]) + ', file ' +
						  fmtKB(T.x[3 * c + 1]) + ', shmem ' + fmtKB(T.x[3 * c + 2]));
			}
		}
		['poll0', 'poll1'].forEach(function (s, k) {
			var P = frame.C[s];
			if (P && !isNaN(P.hi[c]))
				out.push(fmtDur(D.polls[k]) + ' poller read ' + fmtKB(P.hi[c]) +
					 (P.lo[c] < P.hi[c] ? ' (lowest ' + fmtKB(P.lo[c]) + ')' : ''));
		});
		if (frame.C.vmsize && !isNaN(frame.C.vmsize.hi[c])) out.push('VmSize ' + fmtKB(frame.C.vmsize.hi[c]));
		if (frame.C.swap && !isNaN(frame.C.swap.hi[c]) && frame.C.swap.hi[c] > 0) out.push('swap ' + fmtKB(frame.C.swap.hi[c]));
		if (show.spikes) D.spikes.forEach(function (sp) {
			if (sp[2] <= cb && sp[4] >= ca)
				out.push('<span class="t-spike">spike +' + fmtKB(sp[6] - sp[5]) + ' in ' + fmtDur(sp[4] - sp[2]) +
					 ' (pid ' + sp[0] + ', peak ' + fmtKB(sp[6]) + ')</span>');
		});
		if (show.marks) near(D.marks, t, 3 * px, 0).slice(0, 4).forEach(function (m) {
			out.push('mark <b>' + esc(m[3]) + '</b> (pid ' + m[1] + ') at ' + fmtT(m[0], 9) + ' s, RSS ' + fmtKB(m[2]));
		});
		if (show.stages) D.bands.forEach(function (bd) {
			if (bd[0] <= t && bd[1] >= t)
				out.push('stage <b>' + esc(D.stages[bd[2]][0]) + '</b> (pid ' + bd[3] + '): entry ' +
					 fmtKB(bd[5]) + ', peak ' + fmtKB(bd[6]) + ', exit ' + fmtKB(bd[7]));
		});
		if (show.checkpoints) near(D.checkpoints, t, 4 * px, 0).slice(0, 3).forEach(function (cp) {
			out.push('checkpoint (' + esc(cp[6]) + ', pid ' + cp[1] + '): exact ' + fmtKB(cp[2]) +
				 (cp[3] > cp[2] ? '; since the previous one up to ' + fmtKB(cp[3]) : ''));
		});
		if (show.checkpoints) near(D.reported, t, 4 * px, 0).slice(0, 3).forEach(function (rp) {
			out.push('reported "' + esc(rp[5]) + '"' + (rp[1] !== null ? ' vs ' + (rp[3] ? 'the peak so far ' : 'the RSS ') +
				 fmtKB(rp[4]) : ''));
		});
		return out.join('<br>');
	}

	/* a lane: its process's own lowest and highest in the column */
	function laneTip(L, x) {
		var c = Math.floor(x - M.left), C = L.C, ca;
		if (!C || c < 0 || c >= frame.W) return null;
		ca = view.a + c * C.px;
		return esc(L.label) + '<br>' + fmtT(ca, 9) + ' s &ndash; ' + fmtT(ca + C.px, 9) + ' s<br>' +
			(isNaN(C.hi[c]) ? 'not running' : C.lo[c] === C.hi[c] ? 'RSS <b>' + fmtKB(C.hi[c]) + '</b>'
			 : 'lowest <b>' + fmtKB(C.lo[c]) + '</b>, highest <b>' + fmtKB(C.hi[c]) + '</b>');
	}

	function showTip(ev, cv) {
		var rect = cv.getBoundingClientRect(), x = ev.clientX - rect.left, html, L;
		if (!frame) return;
		L = lanes.filter(function (l) { return l.cv === cv; })[0];
		html = L ? laneTip(L, x) : tipHtml(x);
		if (!html) { tip.style.display = 'none'; return; }
		tip.innerHTML = html;
		tip.style.display = 'block';
		var tx = ev.pageX + 14, ty = ev.pageY + 14;
		if (tx + tip.offsetWidth > window.scrollX + document.documentElement.clientWidth)
			tx = ev.pageX - tip.offsetWidth - 14;
		tip.style.left = tx + 'px';
		tip.style.top = ty + 'px';
	}

	/* ---- interaction ---- */

	function attachEvents(cv) {
		cv.addEventListener('mousedown', function (ev) {
			var rect = cv.getBoundingClientRect(), x = ev.clientX - rect.left;
			ev.preventDefault();
			drag = { x0: x, x1: x, pan: ev.shiftKey, a: view.a, b: view.b, sel: false };
		});
		cv.addEventListener('mousemove', function (ev) {
			var rect = cv.getBoundingClientRect(), x = ev.clientX - rect.left;
			if (drag) {
				drag.x1 = x;
				if (drag.pan) {
					var dt = (drag.x0 - x) / frame.W * (drag.b - drag.a);
					view.a = drag.a + dt;
					view.b = drag.b + dt;
					setView(view.a, view.b);
				} else {
					drag.sel = Math.abs(drag.x1 - drag.x0) > 3;
					drawMain();
				}
				return;
			}
			showTip(ev, cv);
		});
		cv.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
		cv.addEventListener('wheel', function (ev) {
			var rect = cv.getBoundingClientRect(), t = tOf(ev.clientX - rect.left);
			var f = ev.deltaY > 0 ? 1.25 : 0.8;
			ev.preventDefault();
			setView(t - (t - view.a) * f, t + (view.b - t) * f);
		}, { passive: false });
		cv.addEventListener('dblclick', function () { setView(full.a, full.b); });
	}

	function endDrag(ev) {
		if (!drag) return;
		var d = drag;
		drag = null;
		if (!d.pan && d.sel) {
			var t0 = tOf(Math.min(d.x0, d.x1)), t1 = tOf(Math.max(d.x0, d.x1));
			setView(t0, t1);
		} else if (!d.pan) {
			drawMain();
		}
	}

	function zoomTo(t0, t1) {
		var span = Math.max(t1 - t0, 2e5), pad = span * 0.15;
		setView(t0 - pad, t0 + span + pad);
		document.getElementById('chart-box').scrollIntoView({ behavior: 'smooth', block: 'start' });
	}

	/* ---- the run's summary (its JSON, when the page has it) ---- */

	function runSummary() {
		var box = document.getElementById('run-summary'), rows = [], S = SUM;
		if (!box || !S || typeof S !== 'object') return;
		function add(k, v) { if (v !== undefined && v !== null && v !== '') rows.push([k, v]); }
		if (Array.isArray(S.command)) add('Command', S.command.join(' '));
		add('Mode', S.mode);
		if (S.peak_rss_kb !== undefined)
			add('Peak (kept in the kernel)', fmtKB(S.peak_rss_kb) + (S.peak_time_s !== undefined ? ' at ' + (+S.peak_time_s).toFixed(6) + ' s' : ''));
		add('Exit code', S.exit_code);
		add('Events written', S.events);
		if (S.lost_events !== undefined)
			add('Records lost', S.lost_events ? '<b class="bad">' + S.lost_events + ' (rows are missing; the peak above is still exact)</b>' : '0');
		if (S.untraced_processes) add('Processes not traced', '<b class="bad">' + S.untraced_processes + '</b>');
		if (S.interrupted) add('Interrupted', 'yes');
		if (S.trace_complete === false) add('Trace complete', '<b class="bad">no (a write failed)</b>');
		if (S.rusage_maxrss_kb !== undefined) add('ru_maxrss (wait4, approximate)', fmtKB(S.rusage_maxrss_kb));
		if (S.guard && S.guard.crossed && S.guard.crossing)
			add('Guard', '--kill-at ' + fmtKB(S.guard.limit_kb) + ' crossed at ' + (+S.guard.crossing.time_s).toFixed(6) +
			    ' s by pid ' + S.guard.crossing.pid + ' (' + esc(S.guard.crossing.cause || '') + ')');
		if (S.kernel) add('Kernel', S.kernel);
		if (!rows.length) return;
		box.innerHTML = '<h3>From the run\u2019s summary</h3><table class="kv">' + rows.map(function (r) {
			var v = String(r[1]);
			return '<tr><th>' + esc(r[0]) + '</th><td>' + (v.indexOf('<b') === 0 ? v : esc(v)) + '</td></tr>';
		}).join('') + '</table>';
	}

	function main() {
		var t0 = performance.now();
		D = JSON.parse(document.getElementById('memtrace-data').textContent);
		try {
			SUM = JSON.parse(document.getElementById('memtrace-summary').textContent);
		} catch (e) {
			SUM = null;	/* not JSON: the tables still say the trace's own figures */
		}
		['total', 'vmsize', 'swap', 'poll0', 'poll1'].forEach(function (s) {
			series[s] = decodeSeries(D.series[s]);
		});
		raw = D.raw ? decodeRaw(D.raw) : null;
		lanes = D.lanes.filter(function (L) { return L.levels.length; }).map(function (L) {
			return { s: decodeSeries(L.levels), others: L.others,
				 label: L.others ? 'other processes (' + D.others_count + '), summed' :
				 'pid ' + L.pid + (L.name ? ' ' + L.name : '') + ' \u00b7 peak ' + fmtKB(L.peak_kb) };
		});
		full.a = D.first;
		full.b = Math.max(D.last, D.first + 1000);
		view.a = full.a;
		view.b = full.b;
		/* #t=START,END (seconds, as time_s): open zoomed there */
		var m = /^#t=([0-9.eE+-]+),([0-9.eE+-]+)$/.exec(location.hash);
		if (m && +m[2] > +m[1]) {
			view.a = +m[1] * 1e9;
			view.b = +m[2] * 1e9;
		}
		Array.prototype.forEach.call(document.querySelectorAll('#controls input'), function (cb) {
			var k = cb.id.replace('show-', '');
			show[k] = cb.checked;
			cb.addEventListener('change', function () { show[k] = cb.checked; draw(); });
		});
		['total', 'vmsize', 'swap', 'poll0', 'poll1'].forEach(function (s) {
			if (!series[s]) show[s] = false;
		});
		tip = document.createElement('div');
		tip.id = 'tooltip';
		document.body.appendChild(tip);
		document.getElementById('zoom-out').addEventListener('click', function () {
			var m = (view.a + view.b) / 2, h = view.b - view.a;
			setView(m - h, m + h);
		});
		document.getElementById('reset').addEventListener('click', function () { setView(full.a, full.b); });
		window.addEventListener('mouseup', endDrag);
		window.addEventListener('resize', function () { if (frame) draw(); });
		Array.prototype.forEach.call(document.querySelectorAll('tr.zoom'), function (tr) {
			tr.addEventListener('click', function () {
				zoomTo(parseFloat(tr.getAttribute('data-t0')) * 1e9, parseFloat(tr.getAttribute('data-t1')) * 1e9);
			});
		});
		runSummary();
		if (view.a !== full.a || view.b !== full.b)
			setView(view.a, view.b);
		else
			draw();
		/* for tests and the benchmark: the script's own time, and when the
		 * first view was on screen (the next frame), from navigation start */
		document.body.setAttribute('data-script-ms', (performance.now() - t0).toFixed(1));
		requestAnimationFrame(function () {
			document.body.setAttribute('data-first-view-ms', performance.now().toFixed(1));
		});
	}

	try {
		main();
	} catch (e) {
		var p = document.createElement('p');
		p.className = 'error';
		p.textContent = 'The chart could not be drawn: ' + e;
		document.body.insertBefore(p, document.body.firstChild);
		document.body.setAttribute('data-error', String(e));
		throw e;
	}
})();
