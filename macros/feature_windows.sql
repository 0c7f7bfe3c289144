{#- Point-in-time customer features (int_customer_state_as_of, over the points of int_feature_points): every
    feature is computed only from rows strictly before the point's as_of_at, and the windowed ones over
    [as_of_at - N days, as_of_at) for N in feature_window_days(). One definition for the classifiers
    (fct_customer_features) and the uplift models (fct_uplift_training_exposures, fct_uplift_scoring_customers). -#}

{#- The trailing windows (days) of the windowed features. -#}
{% macro feature_window_days() -%}
    {{ return([30, 90]) }}
{%- endmacro %}

{#- True when ts lies in the trailing window of `days` days before as_of: [as_of - days, as_of). The upper
    bound is the join condition of the macros below (ts < as_of), so it is not repeated here. -#}
{% macro in_feature_window(ts, as_of, days) -%}
    {{ ts }} >= {{ dbt.dateadd('day', -1 * days, as_of) }}
{%- endmacro %}

{#- Order history per point: one row per feature_point_id of `points` (with customer_id, as_of_at) that has
    an order before as_of_at. -#}
{% macro order_features_as_of(points, orders) -%}
    select
        {{ points }}.feature_point_id,
        count(*) as orders_before,
        {%- for days in feature_window_days() %}
        count_if({{ in_feature_window(orders ~ '.ordered_at', points ~ '.as_of_at', days) }}) as orders_{{ days }}d,
        {%- endfor %}
        sum(coalesce({{ orders }}.amount, 0)) as revenue_before,
        {%- for days in feature_window_days() %}
        sum(case when {{ in_feature_window(orders ~ '.ordered_at', points ~ '.as_of_at', days) }}
            then coalesce({{ orders }}.amount, 0) else 0 end) as revenue_{{ days }}d,
        {%- endfor %}
        count_if({{ orders }}.channel = 'online') as online_orders_before,
        count_if(coalesce({{ orders }}.discount_amount, 0) > 0) as discounted_orders_before,
        count_if({{ orders }}.promotion_id is not null and {{ orders }}.promotion_id <> 'control')
            as promotion_orders_before,
        sum(coalesce({{ orders }}.discount_amount, 0)) as discount_amount_before,
        min({{ orders }}.ordered_at) as first_order_at,
        max({{ orders }}.ordered_at) as last_order_at

    from {{ points }}
    inner join {{ orders }}
        on {{ points }}.customer_id = {{ orders }}.customer_id
        and {{ orders }}.ordered_at < {{ points }}.as_of_at
    group by {{ points }}.feature_point_id
{%- endmacro %}

{#- Web history per point: one row per feature_point_id of `points` (with visitor_id, as_of_at) whose visitor
    has an event (int_events_sessionized) before as_of_at. A session counts by its first event. -#}
{% macro web_features_as_of(points, events) -%}
    {%- set measures = [
        ('sessions', events ~ '.event_number_in_session = 1'),
        ('views', events ~ ".event_role = 'product_view'"),
        ('carts', events ~ ".event_role = 'add_to_cart'"),
        ('purchases', events ~ ".event_role = 'purchase'"),
    ] %}
    select
        {{ points }}.feature_point_id,
        {%- for name, condition in measures %}
        count_if({{ condition }}) as {{ name }}_before,
        {%- for days in feature_window_days() %}
        count_if({{ condition }}
            and {{ in_feature_window(events ~ '.event_at', points ~ '.as_of_at', days) }}) as {{ name }}_{{ days }}d,
        {%- endfor %}
        {%- endfor %}
        min({{ events }}.event_at) as first_event_at,
        max({{ events }}.event_at) as last_event_at

    from {{ points }}
    inner join {{ events }}
        on {{ points }}.visitor_id = {{ events }}.visitor_id
        and {{ events }}.event_at < {{ points }}.as_of_at
    group by {{ points }}.feature_point_id
{%- endmacro %}
