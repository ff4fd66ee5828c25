#Requires -Version 7.4
# Platform commands end to end against an in-process sandbox: connect, install, status, idempotence, uninstall.
BeforeAll {
    Import-Module $env:RHAII_MODULE_MANIFEST -Force
}

Describe 'Sandbox and operators' -Tag Integration {
    BeforeAll {
        $script:kubeconfig = Join-Path ([IO.Path]::GetTempPath()) "rhaii-pester-$PID.kubeconfig"
        $script:sandbox = Start-RhaiiSandbox -Name pester -TpuNodes 1 -ControllerDelay 00:00:00.02 -KubeconfigPath $kubeconfig
    }
    AfterAll {
        Stop-RhaiiSandbox -All -ErrorAction SilentlyContinue
        Remove-Item $kubeconfig -ErrorAction SilentlyContinue
    }

    It 'starts a sandbox and makes it the session default' {
        $sandbox | Should -BeOfType ([RhaiiGke.RhaiiSandbox])
        $sandbox.Connection.IsSandbox | Should -BeTrue
        $sandbox.Server | Should -Match '^https://127\.0\.0\.1:\d+$'
        $sandbox.Connection.AuthKind | Should -Be 'Token'
        $sandbox.Connection.CertificateAuthorityData | Should -Not -BeNullOrEmpty
        $sandbox.NodePools | Should -Contain 'tpu-pool: 1 x ct6e-standard-4t (v6e 2x2, 4 chips each)'
    }

    It 'connects from the kubeconfig it wrote' {
        $c = Connect-RhaiiCluster -Kubeconfig $kubeconfig -NoDefault
        $c | Should -BeOfType ([RhaiiGke.ClusterConnection])
        $c.Server | Should -Be $sandbox.Server
        $c.ServerVersion | Should -Be 'v1.32.4'
        $c.Context | Should -Be 'pester'
    }

    It 'writes a kubeconfig with the sandbox CA and a token, readable by the user only' {
        $text = Get-Content $kubeconfig -Raw
        $text | Should -Match 'certificate-authority-data: \S+'
        $text | Should -Match 'token: \S+'
        $text | Should -Not -Match 'insecure-skip-tls-verify'
        if (-not $IsWindows) { (Get-Item $kubeconfig).UnixFileMode | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite') }
    }

    It 'serves kubectl over TLS with the kubeconfig it wrote' -Skip:(-not (Get-Command kubectl -ErrorAction SilentlyContinue)) {
        $cache = Join-Path ([IO.Path]::GetTempPath()) "rhaii-pester-kubectl-$PID"
        $out = kubectl --kubeconfig $kubeconfig --cache-dir $cache get namespaces -o name 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
        $out | Should -Contain 'namespace/kube-system'
        Remove-Item $cache -Recurse -ErrorAction SilentlyContinue
    }

    It 'previews an install with -WhatIf without changing the cluster' {
        $p = Install-RhaiiOperators -Component cert-manager -WhatIf
        $p.DryRun | Should -BeTrue
        @($p.Components[0].Apply.Objects | Where-Object Action -ne 'WouldCreate').Count | Should -Be 0
        (Get-RhaiiOperatorStatus -Component cert-manager).Components[0].State | Should -Be 'NotInstalled'
    }

    It 'installs every component and reports it Ready' {
        $p = $sandbox | Install-RhaiiOperators
        $p | Should -BeOfType ([RhaiiGke.RhaiiPlatform])
        $p.Ready | Should -BeTrue -Because (($p.Components | ForEach-Object { "$($_.Name): $($_.Message)" }) -join '; ')
        $p.Components.Name | Should -Be @('cert-manager', 'istio', 'lws', 'kserve')
        $p.IstioVersion | Should -Be 'v1.27.3'
        $p.GatewayInferencePoolApi | Should -Be 'inference.networking.x-k8s.io/v1alpha2'
    }

    It 'sends no mutating request when nothing changed' {
        $p = Install-RhaiiOperators
        $p.MutatingRequests | Should -Be 0
        @($p.Components.Apply.Objects | Where-Object Action -ne 'Unchanged').Count | Should -Be 0
    }

    It 'reports status and the bill of materials' {
        $s = Get-RhaiiOperatorStatus
        $s.Ready | Should -BeTrue
        ($s.Components | Where-Object Name -eq 'cert-manager').WebhooksReady | Should -BeTrue
        (Get-RhaiiOperatorStatus -BillOfMaterials | Where-Object Component -eq 'lws').Version | Should -Be 'v0.10.0'
    }

    It 'formats its outputs with the platform views' {
        (Get-RhaiiOperatorStatus | Out-String) | Should -Match 'GatewayInferencePoolApi'
        ((Get-RhaiiOperatorStatus).Components | Format-Table | Out-String) | Should -Match 'Webhooks'
    }

    It 'uninstalls in reverse order' {
        $p = Uninstall-RhaiiOperators -Confirm:$false
        @($p.Components | Where-Object State -ne 'NotInstalled').Count | Should -Be 0
    }
}

Describe 'Errors' -Tag Unit {
    It 'says how to connect when there is no cluster' {
        Stop-RhaiiSandbox -All -ErrorAction SilentlyContinue
        { Get-RhaiiOperatorStatus -ErrorAction Stop } | Should -Throw -ErrorId 'NotConnected,RhaiiGke.Cmdlets.Platform.GetRhaiiOperatorStatusCommand'
    }

    It 'rejects an unknown kubeconfig context with the contexts there are' {
        $kc = Join-Path ([IO.Path]::GetTempPath()) "rhaii-pester-ctx-$PID.kubeconfig"
        Set-Content $kc "apiVersion: v1`nkind: Config`nclusters:`n- name: a`n  cluster: {server: 'http://127.0.0.1:1'}`nusers:`n- name: a`n  user: {token: x}`ncontexts:`n- name: a`n  context: {cluster: a, user: a}`ncurrent-context: a`n"
        try {
            { Connect-RhaiiCluster -Kubeconfig $kc -Context nope -ErrorAction Stop } | Should -Throw -ErrorId 'KubeContextNotFound,RhaiiGke.Cmdlets.Platform.ConnectRhaiiClusterCommand'
            { Connect-RhaiiCluster -Kubeconfig $kc -Context a -ErrorAction Stop } | Should -Throw -ErrorId 'ClusterUnreachable,RhaiiGke.Cmdlets.Platform.ConnectRhaiiClusterCommand'
        }
        finally { Remove-Item $kc -ErrorAction SilentlyContinue }
    }
}
