{#- Event roles (issue 19): any event name is accepted; the seed event_roles maps a lower-cased name to a
    role (retail_lift.contract.EVENT_ROLES), and unknown names take the role 'other'. -#}

{#- The roles whose events are about one product and need a product_id (contract.PRODUCT_ROLES),
    as a SQL list: ('product_view', 'add_to_cart'). -#}
{% macro product_roles() -%}
    ('product_view', 'add_to_cart')
{%- endmacro %}

{#- Order of the roles for events at the same instant: a page, a search, a product view, an add-to-cart,
    anything else, the cart, checkout, payment, the purchase, a refund. -#}
{% macro event_role_rank(role_column) -%}
    case {{ role_column }}
        when 'page_view' then 1
        when 'search' then 2
        when 'product_view' then 3
        when 'add_to_cart' then 4
        when 'other' then 5
        when 'view_cart' then 6
        when 'begin_checkout' then 7
        when 'add_payment_info' then 8
        when 'purchase' then 9
        when 'refund' then 10
        else 11
    end
{%- endmacro %}

{#- The steps of var('funnel_steps'), lower-cased and trimmed, checked: a non-empty list of names without
    quotes. Each step is a role or an event name. -#}
{% macro funnel_steps() -%}
    {%- set raw = var('funnel_steps') -%}
    {%- if raw is string or raw is mapping or raw is not iterable or raw | length == 0 -%}
        {{ exceptions.raise_compiler_error("var('funnel_steps') must be a non-empty list of event roles or event names, e.g. ['product_view', 'add_to_cart', 'purchase']; got " ~ raw) }}
    {%- endif -%}
    {%- set steps = [] -%}
    {%- for step in raw -%}
        {%- set name = (step | string | trim | lower) -%}
        {%- if name == '' or "'" in name or '\\' in name -%}
            {{ exceptions.raise_compiler_error("var('funnel_steps'): step " ~ loop.index ~ " (" ~ step ~ ") must be a non-empty role or event name without quotes or backslashes") }}
        {%- endif -%}
        {%- do steps.append(name) -%}
    {%- endfor -%}
    {{ return(steps) }}
{%- endmacro %}

{#- Condition: the event matches a funnel step (its role or its name equals the step). -#}
{% macro matches_funnel_step(step, role_column='event_role', name_column='event_type') -%}
    ({{ role_column }} = '{{ step }}' or {{ name_column }} = '{{ step }}')
{%- endmacro %}
