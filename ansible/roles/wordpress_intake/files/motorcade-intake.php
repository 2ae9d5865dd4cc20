<?php
/**
 * Plugin Name: Motorcade intake
 * Description: The intake form with slot scheduling ([motorcade_intake]), its confirmation
 * ([motorcade_intake_confirmation]) and the staff's list of submissions (Intake in the admin). Submissions are stored
 * here first; the intake relay (services/intake_relay, a systemd timer) sends them to the lead-intake API.
 * Settings come from /etc/wordpress/motorcade-intake.json, written by Ansible from the inventory.
 * Every form field is prefixed `mc_`: a field named like a WordPress query variable (`name`, …) makes WordPress 404.
 */

namespace Motorcade\Intake;

const CONFIG_FILE = '/etc/wordpress/motorcade-intake.json';
const REFERENCE_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
// Control, private-use and unassigned characters: the lead-intake API refuses them (tab and newlines aside in texts).
const CONTROL_CHARS = '/[\p{Cc}\p{Co}\p{Cn}]/u';

/** The settings written by Ansible (availability, services, rate limit, pages). */
function config(): array
{
    static $config = null;
    if ($config === null) {
        $config = json_decode((string) @file_get_contents(CONFIG_FILE), true) ?: [];
    }
    return $config;
}

function table(): string
{
    global $wpdb;
    return $wpdb->prefix . 'mc_intake_submissions';
}

function zone(): \DateTimeZone
{
    return new \DateTimeZone(config()['availability']['timezone'] ?? 'UTC');
}

/**
 * The bookable slots from now on, keyed `YYYY-MM-DDTHH:MM` (local time): working hours cut into slots of the configured
 * length, after the lead time, within the horizon, outside blackout dates, and with capacity left.
 */
function slots(): array
{
    global $wpdb;
    $rules = config()['availability'] ?? [];
    $zone = zone();
    $utc = new \DateTimeZone('UTC');
    $now = new \DateTimeImmutable('now', $zone);
    $earliest = $now->modify('+' . (int) ($rules['lead_time_hours'] ?? 24) . ' hours');
    $minutes = max(5, (int) ($rules['slot_minutes'] ?? 60));
    $blackout = array_flip($rules['blackout_dates'] ?? []);
    $weekdays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
    $slots = [];
    $day = $now->setTime(0, 0);
    for ($i = 0; $i <= (int) ($rules['horizon_days'] ?? 14); $i++, $day = $day->modify('+1 day')) {
        $date = $day->format('Y-m-d');
        if (isset($blackout[$date])) {
            continue;
        }
        foreach ($rules['working_hours'][$weekdays[(int) $day->format('N') - 1]] ?? [] as $hours) {
            $start = new \DateTimeImmutable("$date {$hours['start']}", $zone);
            $close = new \DateTimeImmutable("$date {$hours['end']}", $zone);
            for ($s = $start; $s->modify("+$minutes minutes") <= $close; $s = $s->modify("+$minutes minutes")) {
                if ($s >= $earliest) {
                    $slots[$s->format('Y-m-d\TH:i')] = ['start' => $s, 'end' => $s->modify("+$minutes minutes")];
                }
            }
        }
    }
    if (!$slots) {
        return [];
    }
    $capacity = max(1, (int) ($rules['capacity_per_slot'] ?? 1));
    $first = reset($slots)['start']->setTimezone($utc)->format('Y-m-d H:i:s');
    $last = end($slots)['start']->setTimezone($utc)->format('Y-m-d H:i:s');
    $taken = $wpdb->get_results($wpdb->prepare(
        'SELECT slot_start, COUNT(*) AS n FROM ' . table() . ' WHERE slot_start BETWEEN %s AND %s GROUP BY slot_start',
        $first,
        $last
    ), ARRAY_A) ?: [];
    foreach ($slots as $key => $slot) {
        $slots[$key]['left'] = $capacity;
    }
    foreach ($taken as $row) {
        $key = (new \DateTimeImmutable($row['slot_start'], $utc))->setTimezone($zone)->format('Y-m-d\TH:i');
        if (isset($slots[$key])) {
            $slots[$key]['left'] -= (int) $row['n'];
            if ($slots[$key]['left'] <= 0) {
                unset($slots[$key]);
            }
        }
    }
    return $slots;
}

/** The client's address: REMOTE_ADDR, or the last X-Forwarded-For hop when REMOTE_ADDR is a trusted proxy. */
function client_address(): string
{
    $remote = $_SERVER['REMOTE_ADDR'] ?? '';
    $forwarded = $_SERVER['HTTP_X_FORWARDED_FOR'] ?? '';
    if ($forwarded !== '' && in_array($remote, config()['trusted_proxies'] ?? [], true)) {
        $hops = array_map('trim', explode(',', $forwarded));
        return (string) end($hops);
    }
    return $remote;
}

/** A keyed hash of the client's address: enough to rate-limit, never the address itself. */
function client_hash(): string
{
    return hash_hmac('sha256', client_address(), wp_salt('nonce'));
}

/** Count this POST against the client's budget; false when the budget is spent. */
function within_rate_limit(): bool
{
    $limit = config()['rate_limit'] ?? ['max_posts' => 5, 'window_seconds' => 600];
    $key = 'mc_intake_rl_' . substr(client_hash(), 0, 32);
    $count = (int) get_transient($key);
    if ($count >= (int) $limit['max_posts']) {
        return false;
    }
    set_transient($key, $count + 1, (int) $limit['window_seconds']);
    return true;
}

function text(array $post, string $field, int $max, bool $multiline, array &$errors, string $label, bool $required): string
{
    $value = trim((string) ($post[$field] ?? ''));
    if (!is_string($post[$field] ?? '')) {
        $value = '';
    }
    if ($value === '') {
        if ($required) {
            $errors[$field] = "Please enter $label.";
        }
        return '';
    }
    if (!mb_check_encoding($value, 'UTF-8')
        || preg_match(CONTROL_CHARS, $multiline ? str_replace(["\r", "\n", "\t"], '', $value) : $value)) {
        $errors[$field] = ucfirst($label) . ' contains characters we cannot accept.';
    } elseif (mb_strlen($value) > $max) {
        $errors[$field] = ucfirst($label) . " is too long (at most $max characters).";
    }
    return $value;
}

/** Validate the posted form: [values, errors keyed by field]. */
function validate(array $post): array
{
    $errors = [];
    $values = [
        'name' => text($post, 'mc_name', 200, false, $errors, 'your name', true),
        'email' => text($post, 'mc_email', 254, false, $errors, 'your email address', false),
        'phone' => text($post, 'mc_phone', 40, false, $errors, 'your phone number', false),
        'pickup' => text($post, 'mc_pickup', 300, false, $errors, 'the pickup address or location', false),
        'dropoff' => text($post, 'mc_dropoff', 300, false, $errors, 'the drop-off address', false),
        'message' => text($post, 'mc_message', 3000, true, $errors, 'your message', false),
    ];
    if ($values['email'] !== '' && !isset($errors['mc_email']) && !is_email($values['email'])) {
        $errors['mc_email'] = 'Please enter a valid email address, like name@example.com.';
    }
    if ($values['phone'] !== '' && !isset($errors['mc_phone'])) {
        $digits = preg_replace('/\D/', '', $values['phone']);
        if (!preg_match('/^\+?[\d\s().-]+$/', $values['phone']) || strlen($digits) < 6 || strlen($digits) > 15) {
            $errors['mc_phone'] = 'Please enter a phone number of 6 to 15 digits, like +33 1 23 45 67 89.';
        }
    }
    if ($values['email'] === '' && $values['phone'] === '' && !isset($errors['mc_email'], $errors['mc_phone'])) {
        $errors['mc_email'] = 'Please give an email address or a phone number so we can reach you.';
    }
    $services = config()['services'] ?? [];
    $service = (string) ($post['mc_service'] ?? '');
    if (!in_array($service, $services, true)) {
        $errors['mc_service'] = 'Please choose a service.';
    }
    $values['service'] = $service;
    $slot = (string) ($post['mc_slot'] ?? '');
    $available = slots();
    if ($slot === '') {
        $errors['mc_slot'] = 'Please pick a time slot.';
    } elseif (!isset($available[$slot])) {
        $errors['mc_slot'] = 'This slot is no longer available; please pick another one.';
    } else {
        $values['slot'] = $available[$slot];
    }
    if (($post['mc_consent'] ?? '') !== '1') {
        $errors['mc_consent'] = 'Please agree that we store your request and contact you about it.';
    }
    return [$values, $errors];
}

function new_reference(): string
{
    $bytes = random_bytes(8);
    $chars = '';
    for ($i = 0; $i < 8; $i++) {
        $chars .= REFERENCE_ALPHABET[ord($bytes[$i]) % 32];
    }
    return 'MC-' . substr($chars, 0, 4) . '-' . substr($chars, 4, 4);
}

/** The body the relay posts to the lead-intake API (POST /leads), fixed at submission time. */
function lead_body(array $values, string $reference): array
{
    $lines = ["Website reference: $reference"];
    if ($values['pickup'] !== '') {
        $lines[] = 'Pickup / location: ' . $values['pickup'];
    }
    if ($values['dropoff'] !== '') {
        $lines[] = 'Drop-off: ' . $values['dropoff'];
    }
    if ($values['message'] !== '') {
        $lines[] = '';
        $lines[] = $values['message'];
    }
    $body = [
        'name' => $values['name'],
        'service' => $values['service'],
        'requested_window' => [
            'start' => $values['slot']['start']->format(DATE_ATOM),
            'end' => $values['slot']['end']->format(DATE_ATOM),
        ],
        'message' => implode("\n", $lines),
        'source' => 'website',
        'consent' => true,
    ];
    if ($values['email'] !== '') {
        $body['email'] = $values['email'];
    }
    if ($values['phone'] !== '') {
        $body['phone'] = $values['phone'];
    }
    return $body;
}

/** Store a valid submission under a lock on the slots (so capacity holds); its reference, or null when the slot filled. */
function store(array $values): ?string
{
    global $wpdb;
    $utc = new \DateTimeZone('UTC');
    $capacity = max(1, (int) (config()['availability']['capacity_per_slot'] ?? 1));
    $start = $values['slot']['start']->setTimezone($utc)->format('Y-m-d H:i:s');
    if ((int) $wpdb->get_var("SELECT GET_LOCK('motorcade_intake_slots', 10)") !== 1) {
        return null;
    }
    try {
        $taken = (int) $wpdb->get_var($wpdb->prepare('SELECT COUNT(*) FROM ' . table() . ' WHERE slot_start = %s', $start));
        if ($taken >= $capacity) {
            return null;
        }
        $now = gmdate('Y-m-d H:i:s');
        for ($try = 0; $try < 3; $try++) {
            $reference = new_reference();
            $stored = $wpdb->insert(table(), [
                'reference' => $reference,
                'created_at' => $now,
                'slot_start' => $start,
                'slot_end' => $values['slot']['end']->setTimezone($utc)->format('Y-m-d H:i:s'),
                'service' => $values['service'],
                'contact_name' => $values['name'],
                'payload' => wp_json_encode(lead_body($values, $reference), JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES),
                'client_hash' => client_hash(),
                'status' => 'pending',
                'attempts' => 0,
                'next_attempt_at' => $now,
            ]);
            if ($stored === 1) {
                return $reference;
            }
        }
        return null;
    } finally {
        $wpdb->query("SELECT RELEASE_LOCK('motorcade_intake_slots')");
    }
}

function page_url(string $key): string
{
    return home_url('/' . trim((string) (config()['pages'][$key] ?? $key), '/') . '/');
}

/** Handle a posted intake form before WordPress renders the page: store and redirect, or keep the errors for the form. */
function handle_post(): void
{
    if (($_SERVER['REQUEST_METHOD'] ?? '') !== 'POST' || ($_POST['mc_form'] ?? '') !== 'intake') {
        return;
    }
    $post = wp_unslash($_POST);
    $errors = [];
    $values = [];
    if (!wp_verify_nonce((string) ($post['mc_nonce'] ?? ''), 'mc_intake')) {
        $errors['form'] = 'This form has expired. Please check your details and send it again.';
    } elseif ((string) ($post['mc_website'] ?? '') !== '') {
        $errors['form'] = 'Your request could not be accepted.';
    } elseif (!within_rate_limit()) {
        $errors['form'] = 'Too many requests from your address. Please try again in a few minutes.';
    } else {
        [$values, $errors] = validate($post);
        if (!$errors) {
            $reference = store($values);
            if ($reference !== null) {
                wp_safe_redirect(add_query_arg('mc_ref', $reference, page_url('confirmation')), 303);
                exit;
            }
            $errors['mc_slot'] = 'This slot has just been taken; please pick another one.';
        }
    }
    status_header(isset($errors['form']) && str_starts_with($errors['form'], 'Too many') ? 429 : 422);
    $GLOBALS['motorcade_intake_state'] = ['errors' => $errors, 'post' => $post];
}
add_action('template_redirect', __NAMESPACE__ . '\handle_post');

function field_error(array $errors, string $field): string
{
    return isset($errors[$field])
        ? '<p class="mc-error" id="' . esc_attr($field) . '-error" role="alert">' . esc_html($errors[$field]) . '</p>'
        : '';
}

function field_attrs(array $errors, string $field): string
{
    return isset($errors[$field]) ? ' aria-invalid="true" aria-describedby="' . esc_attr($field) . '-error"' : '';
}

/** [motorcade_intake]: the form, with the previous answers and errors after a refused submission. */
function render_form(): string
{
    $state = $GLOBALS['motorcade_intake_state'] ?? ['errors' => [], 'post' => []];
    $errors = $state['errors'];
    $post = $state['post'];
    $value = static fn (string $f): string => esc_attr(is_string($post[$f] ?? '') ? (string) ($post[$f] ?? '') : '');
    $slots = slots();
    $tz = zone()->getName();
    ob_start();
    echo '<form class="mc-intake" method="post" action="' . esc_url(get_permalink()) . '" novalidate>';
    if (isset($errors['form'])) {
        echo '<p class="mc-error mc-form-error" role="alert">' . esc_html($errors['form']) . '</p>';
    } elseif ($errors) {
        echo '<p class="mc-error mc-form-error" role="alert">Please correct the fields marked below.</p>';
    }
    echo '<input type="hidden" name="mc_form" value="intake">';
    wp_nonce_field('mc_intake', 'mc_nonce', false);
    $inputs = [
        ['mc_name', 'Your name', 'text', 'name'],
        ['mc_email', 'Email', 'email', 'email'],
        ['mc_phone', 'Phone', 'tel', 'tel'],
    ];
    foreach ($inputs as [$field, $label, $type, $autocomplete]) {
        echo '<p><label for="' . $field . '">' . esc_html($label) . '</label><br><input type="' . $type . '" id="' . $field
            . '" name="' . $field . '" autocomplete="' . $autocomplete . '" value="' . $value($field) . '"'
            . field_attrs($errors, $field) . '>' . field_error($errors, $field) . '</p>';
    }
    echo '<p><label for="mc_service">Service</label><br><select id="mc_service" name="mc_service"' . field_attrs($errors, 'mc_service') . '>';
    echo '<option value="">Choose a service</option>';
    foreach (config()['services'] ?? [] as $service) {
        echo '<option value="' . esc_attr($service) . '"' . selected($value('mc_service'), esc_attr($service), false) . '>' . esc_html($service) . '</option>';
    }
    echo '</select>' . field_error($errors, 'mc_service') . '</p>';
    echo '<p><label for="mc_slot">Date and time (' . esc_html($tz) . ')</label><br><select id="mc_slot" name="mc_slot"' . field_attrs($errors, 'mc_slot') . '>';
    echo '<option value="">' . ($slots ? 'Pick a slot' : 'No slot is free at the moment') . '</option>';
    $group = null;
    foreach ($slots as $key => $slot) {
        $day = $slot['start']->format('l j F Y');
        if ($day !== $group) {
            echo ($group === null ? '' : '</optgroup>') . '<optgroup label="' . esc_attr($day) . '">';
            $group = $day;
        }
        echo '<option value="' . esc_attr($key) . '"' . selected($value('mc_slot'), $key, false) . '>'
            . esc_html($slot['start']->format('H:i') . '–' . $slot['end']->format('H:i')) . '</option>';
    }
    echo ($group === null ? '' : '</optgroup>') . '</select>' . field_error($errors, 'mc_slot') . '</p>';
    $areas = [
        ['mc_pickup', 'Pickup address or location'],
        ['mc_dropoff', 'Drop-off address (if any)'],
    ];
    foreach ($areas as [$field, $label]) {
        echo '<p><label for="' . $field . '">' . esc_html($label) . '</label><br><input type="text" id="' . $field . '" name="'
            . $field . '" value="' . $value($field) . '"' . field_attrs($errors, $field) . '>' . field_error($errors, $field) . '</p>';
    }
    echo '<p><label for="mc_message">Message</label><br><textarea id="mc_message" name="mc_message" rows="5"'
        . field_attrs($errors, 'mc_message') . '>' . esc_textarea(is_string($post['mc_message'] ?? '') ? (string) ($post['mc_message'] ?? '') : '')
        . '</textarea>' . field_error($errors, 'mc_message') . '</p>';
    echo '<div class="mc-hp" aria-hidden="true" style="position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden">'
        . '<label for="mc_website">Leave this field empty</label><input type="text" id="mc_website" name="mc_website" tabindex="-1" autocomplete="off" value=""></div>';
    echo '<p><label><input type="checkbox" id="mc_consent" name="mc_consent" value="1"' . checked($value('mc_consent'), '1', false)
        . field_attrs($errors, 'mc_consent') . '> I agree that Motorcade stores this request and contacts me about it.</label>'
        . field_error($errors, 'mc_consent') . '</p>';
    echo '<p><button type="submit" id="mc_submit">Send my request</button></p></form>';
    return (string) ob_get_clean();
}
add_shortcode('motorcade_intake', __NAMESPACE__ . '\render_form');

/** [motorcade_intake_confirmation]: the reference and the requested slot of the submission named by ?mc_ref=. */
function render_confirmation(): string
{
    global $wpdb;
    $reference = strtoupper(sanitize_text_field(wp_unslash((string) ($_GET['mc_ref'] ?? ''))));
    $row = preg_match('/^MC-[2-9A-Z]{4}-[2-9A-Z]{4}$/', $reference)
        ? $wpdb->get_row($wpdb->prepare('SELECT reference, slot_start, slot_end, service FROM ' . table() . ' WHERE reference = %s', $reference), ARRAY_A)
        : null;
    if (!$row) {
        return '<p class="mc-error">We could not find this request. If you have just sent it, please check the link.</p>';
    }
    $utc = new \DateTimeZone('UTC');
    $start = (new \DateTimeImmutable($row['slot_start'], $utc))->setTimezone(zone());
    $end = (new \DateTimeImmutable($row['slot_end'], $utc))->setTimezone(zone());
    return '<div class="mc-confirmation"><p>Thank you, we have received your request.</p>'
        . '<p>Your reference is <strong class="mc-reference">' . esc_html($row['reference']) . '</strong>.</p>'
        . '<p>Service: ' . esc_html($row['service']) . '<br>Requested slot: <span class="mc-slot">'
        . esc_html($start->format('l j F Y, H:i') . '–' . $end->format('H:i') . ' (' . zone()->getName() . ')')
        . '</span></p><p>We will contact you to confirm.</p></div>';
}
add_shortcode('motorcade_intake_confirmation', __NAMESPACE__ . '\render_confirmation');

/** Intake in the admin: pending, relayed and rejected submissions, for staff who can edit pages. */
function render_admin(): void
{
    global $wpdb;
    $statuses = ['pending', 'relayed', 'rejected'];
    $filter = in_array($_GET['mc_status'] ?? '', $statuses, true) ? $_GET['mc_status'] : '';
    $counts = $wpdb->get_results('SELECT status, COUNT(*) AS n FROM ' . table() . ' GROUP BY status', OBJECT_K);
    $where = $filter ? $wpdb->prepare(' WHERE status = %s', $filter) : '';
    $rows = $wpdb->get_results('SELECT reference, created_at, slot_start, service, contact_name, status, attempts, '
        . 'last_attempt_at, last_error, relayed_at, lead_id FROM ' . table() . $where . ' ORDER BY id DESC LIMIT 200', ARRAY_A);
    echo '<div class="wrap"><h1>Intake submissions</h1><ul class="subsubsub">';
    echo '<li><a href="' . esc_url(admin_url('admin.php?page=mc-intake')) . '">All</a> | </li>';
    foreach ($statuses as $status) {
        $n = isset($counts[$status]) ? (int) $counts[$status]->n : 0;
        echo '<li><a class="mc-count-' . $status . '" href="' . esc_url(admin_url('admin.php?page=mc-intake&mc_status=' . $status)) . '">'
            . esc_html(ucfirst($status)) . ' <span class="count">(' . $n . ')</span></a> </li>';
    }
    echo '</ul><table class="widefat striped mc-submissions"><thead><tr><th>Reference</th><th>Received (UTC)</th>'
        . '<th>Slot (UTC)</th><th>Service</th><th>Name</th><th>Status</th><th>Attempts</th><th>Last attempt (UTC)</th>'
        . '<th>Last error</th><th>Relayed (UTC)</th><th>Lead</th></tr></thead><tbody>';
    foreach ($rows as $row) {
        echo '<tr class="mc-status-' . esc_attr($row['status']) . '">';
        foreach (['reference', 'created_at', 'slot_start', 'service', 'contact_name', 'status', 'attempts', 'last_attempt_at', 'last_error', 'relayed_at', 'lead_id'] as $col) {
            echo '<td>' . esc_html((string) $row[$col]) . '</td>';
        }
        echo '</tr>';
    }
    if (!$rows) {
        echo '<tr><td colspan="11">No submissions.</td></tr>';
    }
    echo '</tbody></table></div>';
}
add_action('admin_menu', static function (): void {
    add_menu_page('Intake submissions', 'Intake', 'edit_pages', 'mc-intake', __NAMESPACE__ . '\render_admin', 'dashicons-clipboard', 26);
});
