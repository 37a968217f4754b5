SET SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '');
SET @new_hash = PASSWORD('r''o\\ot'), @accepted = 0, @current_hash = NULL;
SELECT JSON_SEARCH(Priv, 'one', @new_hash) IS NOT NULL,
       IF(JSON_VALUE(Priv, '$.plugin') = 'mysql_native_password', NULLIF(JSON_VALUE(Priv, '$.authentication_string'), ''), NULL)
  INTO @accepted, @current_hash FROM mysql.global_priv WHERE User = 'root' AND Host = 'localhost';
SET @statement = IF(@accepted, 'DO 0', CONCAT('ALTER USER IF EXISTS ', QUOTE('root'), '@', QUOTE('localhost'),
  ' IDENTIFIED VIA unix_socket OR ', 'mysql_native_password USING ', QUOTE(@new_hash),
  IF(@current_hash IS NULL, '', CONCAT(' OR mysql_native_password USING ', QUOTE(@current_hash)))));
PREPARE set_password FROM @statement; EXECUTE set_password; DEALLOCATE PREPARE set_password;
SET @new_hash = PASSWORD('r''o\\ot'), @accepted = 0, @current_hash = NULL;
SELECT JSON_SEARCH(Priv, 'one', @new_hash) IS NOT NULL,
       IF(JSON_VALUE(Priv, '$.plugin') = 'mysql_native_password', NULLIF(JSON_VALUE(Priv, '$.authentication_string'), ''), NULL)
  INTO @accepted, @current_hash FROM mysql.global_priv WHERE User = 'root' AND Host = '%';
SET @statement = IF(@accepted, 'DO 0', CONCAT('ALTER USER IF EXISTS ', QUOTE('root'), '@', QUOTE('%'),
  ' IDENTIFIED VIA ', 'mysql_native_password USING ', QUOTE(@new_hash),
  IF(@current_hash IS NULL, '', CONCAT(' OR mysql_native_password USING ', QUOTE(@current_hash)))));
PREPARE set_password FROM @statement; EXECUTE set_password; DEALLOCATE PREPARE set_password;
CREATE USER IF NOT EXISTS 'mysql'@'localhost' IDENTIFIED VIA unix_socket;
GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'mysql'@'localhost';
CREATE DATABASE IF NOT EXISTS `word$press`;
CREATE USER IF NOT EXISTS 'wp'@'%' IDENTIFIED BY 'w''p';
SET @new_hash = PASSWORD('w''p'), @accepted = 0, @current_hash = NULL;
SELECT JSON_SEARCH(Priv, 'one', @new_hash) IS NOT NULL,
       IF(JSON_VALUE(Priv, '$.plugin') = 'mysql_native_password', NULLIF(JSON_VALUE(Priv, '$.authentication_string'), ''), NULL)
  INTO @accepted, @current_hash FROM mysql.global_priv WHERE User = 'wp' AND Host = '%';
SET @statement = IF(@accepted, 'DO 0', CONCAT('ALTER USER IF EXISTS ', QUOTE('wp'), '@', QUOTE('%'),
  ' IDENTIFIED VIA ', 'mysql_native_password USING ', QUOTE(@new_hash),
  IF(@current_hash IS NULL, '', CONCAT(' OR mysql_native_password USING ', QUOTE(@current_hash)))));
PREPARE set_password FROM @statement; EXECUTE set_password; DEALLOCATE PREPARE set_password;
GRANT ALL PRIVILEGES ON `word$press`.* TO 'wp'@'%';
