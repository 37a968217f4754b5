SET SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '');
ALTER USER IF EXISTS 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('r''o\\ot');
ALTER USER IF EXISTS 'root'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('r''o\\ot');
CREATE USER IF NOT EXISTS 'mysql'@'localhost' IDENTIFIED VIA unix_socket;
GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'mysql'@'localhost';
CREATE DATABASE IF NOT EXISTS `word$press`;
CREATE USER IF NOT EXISTS 'wp'@'%' IDENTIFIED BY 'w''p';
ALTER USER IF EXISTS 'wp'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('w''p');
GRANT ALL PRIVILEGES ON `word$press`.* TO 'wp'@'%';
