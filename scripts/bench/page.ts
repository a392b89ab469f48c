/**
 * The bench page: runs in Chromium on tfjs's webgpu backend and exposes `window.bench` (api.ts) to
 * the driver, which asks for one measurement at a time.
 */
import { benchApi } from './api';

const limits = new URLSearchParams(location.search).get('limits') === 'webgpu-default' ? 'webgpu-default' : 'adapter';
window.bench = benchApi(limits, navigator.userAgent);
document.body.dataset.ready = 'true';
