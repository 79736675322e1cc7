package seed

import "syscall"

const sysSyncfs = syscall.SYS_SYNCFS
