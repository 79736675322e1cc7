package seed

// sysSyncfs is syncfs(2); the syscall package lacks it on amd64.
const sysSyncfs = 306
