export { GpuFailure, suggestionFor, withWatchdog, type GpuFailureInfo, type GpuFailureKind } from './failure';
export {
  DEFAULT_STEP_WATCHDOG,
  GpuMonitor,
  kindOfError,
  NO_GPU_GUARD,
  stepFlops,
  stepTimeoutMs,
  watchFirstDispatches,
  watchReadBacks,
  WATCHDOG_GUARD,
  type GpuGuard,
  type DispatchBackend,
  type MonitoredDevice,
  type ReadBackBackend,
  type StepWatchdog,
} from './monitor';
