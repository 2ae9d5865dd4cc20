<?php
/**
 * Motorcade's WordPress setup helper, run by Ansible with `php` (never through the web server).
 *
 * Reads one JSON object on stdin: host, https, title, admin_user, admin_password, admin_email, language, options
 * (name => value), application_password_name, application_password_file. Installs WordPress when it is not installed,
 * sets the options that differ, and makes sure the named application password of the admin exists and matches the
 * root-only file that keeps it (WordPress shows a new one only once). Prints {"changed": [...]} and exits 0, or prints a
 * one-line error on stderr and exits 1.
 */

if (PHP_SAPI !== 'cli') {
    exit(1);
}

$input = json_decode(stream_get_contents(STDIN), true);
if (!is_array($input)) {
    fwrite(STDERR, "wordpress-setup: expected a JSON object on stdin\n");
    exit(1);
}

$_SERVER['HTTP_HOST'] = $input['host'];
$_SERVER['SERVER_NAME'] = preg_replace('/:.*/', '', $input['host']);
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
if (!empty($input['https'])) {
    $_SERVER['HTTPS'] = 'on';
}
define('WP_INSTALLING', true);
require_once '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';

$changed = [];

if (!is_blog_installed()) {
    $result = wp_install(
        $input['title'],
        $input['admin_user'],
        $input['admin_email'],
        false,
        '',
        wp_slash($input['admin_password']),
        $input['language']
    );
    if (empty($result['user_id'])) {
        fwrite(STDERR, "wordpress-setup: wp_install did not create the administrator\n");
        exit(1);
    }
    $changed[] = 'installed';
}

$flush = false;
foreach ($input['options'] as $name => $value) {
    if ((string) get_option($name) !== (string) $value) {
        update_option($name, $value);
        $changed[] = "option $name";
        $flush = $flush || $name === 'permalink_structure';
    }
}
if ($flush) {
    global $wp_rewrite;
    $wp_rewrite->init();
    flush_rewrite_rules(false);
}

$user = get_user_by('login', $input['admin_user']);
if (!$user) {
    fwrite(STDERR, "wordpress-setup: the administrator {$input['admin_user']} does not exist\n");
    exit(1);
}

$file = $input['application_password_file'];
$name = $input['application_password_name'];
$stored = is_readable($file) ? trim((string) file_get_contents($file)) : '';
$valid = false;
foreach (WP_Application_Passwords::get_user_application_passwords($user->ID) as $item) {
    if ($item['name'] !== $name) {
        continue;
    }
    if ($stored !== '' && wp_check_password($stored, $item['password'])) {
        $valid = true;
    }
}
if (!$valid) {
    foreach (WP_Application_Passwords::get_user_application_passwords($user->ID) as $item) {
        if ($item['name'] === $name) {
            WP_Application_Passwords::delete_application_password($user->ID, $item['uuid']);
        }
    }
    $created = WP_Application_Passwords::create_new_application_password($user->ID, ['name' => $name]);
    if (is_wp_error($created)) {
        fwrite(STDERR, 'wordpress-setup: ' . $created->get_error_message() . "\n");
        exit(1);
    }
    $umask = umask(0077);
    file_put_contents($file, $created[0] . "\n");
    umask($umask);
    chmod($file, 0600);
    $changed[] = 'application password';
}

echo json_encode(['changed' => $changed]), "\n";
