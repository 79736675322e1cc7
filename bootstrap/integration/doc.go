// Package integration holds the black-box tests of the mysql-bootstrap
// binary against real MariaDB servers (or MySQL, with MYSQLD set): one
// server process per pod on its own loopback address, a DNS server the
// test controls standing in for the headless Service.
package integration
