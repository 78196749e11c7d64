/**
 * Kubernetes labels as Calico checks them: a zod schema shared by the topology file, ctl and the
 * policy resources.
 */
import { z } from 'zod';

type Ctx = z.core.$RefinementCtx;
function issue(ctx: Ctx, path: (string | number)[], message: string): void {
  ctx.addIssue({ code: 'custom', path, message });
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** Kubernetes label keys ([prefix/]name) and values, as Calico checks them. */
export const labelMap = z.record(z.string(), z.string()).superRefine((map, ctx) => {
  for (const [key, value] of Object.entries(map)) {
    const slash = key.indexOf('/');
    const prefix = slash < 0 ? undefined : key.slice(0, slash);
    const name = slash < 0 ? key : key.slice(slash + 1);
    if (name.length > 63 || !LABEL_NAME.test(name) || (prefix !== undefined && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix)))) {
      issue(ctx, [key], 'invalid label key: [DNS subdomain/]name, the name at most 63 characters of a-z, A-Z, 0-9, "-", "_" and "."');
    }
    if (value.length > 63 || (value !== '' && !LABEL_NAME.test(value))) {
      issue(ctx, [key], 'invalid label value: at most 63 characters of a-z, A-Z, 0-9, "-", "_" and ".", starting and ending with a letter or digit');
    }
  }
});
