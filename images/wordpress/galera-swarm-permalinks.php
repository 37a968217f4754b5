<?php
/**
 * Plugin Name: galera-swarm pretty permalinks
 * Description: Gives a fresh install the installer's default pretty permalinks when its loopback probe could not reach the site.
 *
 * WordPress's installer (wp_install_maybe_enable_pretty_permalinks) turns pretty permalinks on
 * only if a request from the server to the new site's own URL answers. Inside a container that
 * URL (a published port, a swarm ingress, a proxy) is often unreachable from the container
 * itself, and the site is left with plain `?p=123` links. This image's vhost rewrites every
 * path that is not a file to index.php, so pretty permalinks work whatever the probe said: set
 * the structure the installer tries first. An admin's later choice (Settings > Permalinks) stays.
 */

add_action('wp_install', function () {
    global $wp_rewrite;
    if (get_option('permalink_structure')) {
        return; // the probe succeeded: keep what the installer chose
    }
    $wp_rewrite->set_permalink_structure('/%year%/%monthnum%/%day%/%postname%/');
    // Soft flush: the rules live in the vhost, WordPress cannot (and need not) write .htaccess.
    $wp_rewrite->flush_rules(false);
});
