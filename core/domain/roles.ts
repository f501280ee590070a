/**
 * Who may do what (laws L3, L7, L9). Roles are granted to people; permissions are what routes
 * ask for. A route never checks a role by name, so adding a role touches only this table.
 */
export const ROLES = ['device_admin', 'reviewer', 'auxiliary', 'legal_reviewer', 'analyst', 'auditor', 'system_admin'] as const;
export type Role = (typeof ROLES)[number];

/** Roles that decide on evidence; each needs a valid enforcement certificate to act (law L9). */
export const DECIDING_ROLES: readonly Role[] = ['reviewer', 'legal_reviewer'];

export const PERMISSIONS = [
  'devices.read',
  'devices.manage',
  'health.read',
  'health.manage',
  'captures.list',
  'evidence.view',
  'review.prescreen',
  'review.decide',
  'review.decide_escalated',
  'tampering.record',
  'incidents.read',
  'evidence.export',
  'analytics.read',
  'analytics.run',
  'audit.read',
  'people.manage',
  'reasons.manage',
  'queues.read',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const GRANTS: Record<Role, readonly Permission[]> = {
  device_admin: ['devices.read', 'devices.manage', 'health.read', 'health.manage', 'captures.list'],
  reviewer: ['captures.list', 'evidence.view', 'review.decide', 'tampering.record', 'incidents.read', 'evidence.export', 'health.read'],
  // Auxiliary staff may look and annotate, never decide (law L9).
  auxiliary: ['captures.list', 'evidence.view', 'review.prescreen'],
  legal_reviewer: [
    'captures.list',
    'evidence.view',
    'review.decide',
    'review.decide_escalated',
    'tampering.record',
    'incidents.read',
    'evidence.export',
    'health.read',
  ],
  // Analysts see aggregates only: no images, plates or single captures (law L7).
  analyst: ['analytics.read', 'analytics.run', 'devices.read'],
  auditor: ['audit.read', 'captures.list', 'incidents.read', 'evidence.view', 'evidence.export', 'devices.read', 'health.read'],
  system_admin: ['people.manage', 'reasons.manage', 'devices.read', 'audit.read', 'queues.read'],
};

/** Every permission the given roles grant together. */
export function permissionsOf(roles: readonly Role[]): Set<Permission> {
  return new Set(roles.flatMap((role) => GRANTS[role]));
}

/** Permissions that need a valid enforcement certificate on the day they are used, whatever the role says. */
export const CERTIFIED_PERMISSIONS: ReadonlySet<Permission> = new Set(['review.decide', 'review.decide_escalated', 'tampering.record']);

export interface Certificate {
  number: string;
  expiresAt: Date;
}

/** A person may use a permission when a role grants it and, for deciding, their certificate is valid at `at`. */
export function mayUse(person: { roles: readonly Role[]; certificate: Certificate | null }, permission: Permission, at: Date): boolean {
  if (!permissionsOf(person.roles).has(permission)) return false;
  if (!CERTIFIED_PERMISSIONS.has(permission)) return true;
  return person.certificate !== null && person.certificate.expiresAt.getTime() > at.getTime();
}
