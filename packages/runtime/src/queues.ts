/** Queue names: built here and nowhere else. */
export const queues = {
  /** User submissions: every operation enters here. */
  jobs: 'virtflow.jobs',
  /** A driver's post-parse stage (`virtflow.postparse.qemu`). */
  postparse: (driver: string): string => {
    if (!/^[a-z0-9_-]+$/.test(driver)) throw new Error(`'${driver}' is not a driver name`);
    return `virtflow.postparse.${driver}`;
  },
  /** The operator's policy stages. */
  policy: 'virtflow.policy',
  /** Lifecycle operations handed on to the scheduler. */
  schedule: 'virtflow.schedule',
  /** Jobs that ran out of attempts on an infrastructure fault, for an operator to re-drive. */
  dead: 'virtflow.dead',
} as const;
