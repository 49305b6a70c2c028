"""Group names that access rules are written against (the groups are created by migrations/seed)."""

COORDINATORS = "coordinators"
AUDITORS = "auditors"
DEPARTMENT_HEADS = "department_heads"
DEPARTMENT_STAFF = "department_staff"
LEADERS = "leaders"
ADMINISTRATORS = "administrators"

ALL_GROUPS = (COORDINATORS, AUDITORS, DEPARTMENT_HEADS, DEPARTMENT_STAFF, LEADERS, ADMINISTRATORS)
